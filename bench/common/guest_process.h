// Runs an emulator for the guest benchmarks (bench/boot-riscv, bench/blk-riscv): stdin from
// /dev/null, stdout and stderr collected through a pipe, killed after a timeout.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "base/error.h"

namespace tandem::bench {

struct GuestProcess {
  std::string output;
  int status = -1;  // exit status; -1 when killed or signalled
  bool timed_out = false;
  double seconds = 0;  // from the start to the process's end
};

// `on_output(output, now)` runs after each chunk arrives (now: seconds since the start).
inline GuestProcess run_guest_process(
    const std::vector<std::string>& argv, int timeout_s,
    const std::function<void(const std::string& output, double now)>& on_output = {}) {
  GuestProcess run;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) fail_errno("pipe");
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid < 0) fail_errno("fork");
  if (pid == 0) {
    const int null = open("/dev/null", O_RDONLY);
    dup2(null, 0);
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    std::fprintf(stderr, "cannot run %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  close(fds[1]);
  auto since = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  for (;;) {
    const double left = timeout_s - since();
    if (left <= 0) {
      run.timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(std::min(left, 1.0) * 1000) + 1) <= 0) continue;
    char buf[4096];
    const ssize_t n = read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    run.output.append(buf, static_cast<size_t>(n));
    if (on_output) on_output(run.output, since());
  }
  close(fds[0]);
  int ws = 0;
  waitpid(pid, &ws, 0);
  run.seconds = since();
  if (WIFEXITED(ws)) run.status = WEXITSTATUS(ws);
  return run;
}

}  // namespace tandem::bench
