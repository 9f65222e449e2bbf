#include "tests/integration/run_command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

namespace tandem::testing {

namespace {

using Clock = std::chrono::steady_clock;

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

std::string CommandResult::describe() const {
  std::ostringstream s;
  if (!started) return "not started: " + error;
  if (timed_out) s << "TIMED OUT after " << seconds << " s; ";
  if (exited) s << "exit code " << exit_code;
  if (signal) s << "killed by signal " << signal << (core_dumped ? " (core dumped)" : "");
  s << "\n--- stdout ---\n" << out << "\n--- stderr ---\n" << err << "\n--------------";
  return s.str();
}

CommandResult run_command(const std::vector<std::string>& argv, const CommandOptions& options) {
  CommandResult r;
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) < 0 || ::pipe2(out, O_CLOEXEC) < 0 || ::pipe2(err, O_CLOEXEC) < 0) {
    r.error = std::string("pipe: ") + std::strerror(errno);
    return r;
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  auto start = Clock::now();
  pid_t pid = ::fork();
  if (pid < 0) {
    r.error = std::string("fork: ") + std::strerror(errno);
    return r;
  }
  if (pid == 0) {
    ::setpgid(0, 0);  // so that a timeout kills everything the command started
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::signal(SIGPIPE, SIG_DFL);
    ::execv(args[0], args.data());
    dprintf(2, "exec %s: %s\n", args[0], std::strerror(errno));
    ::_exit(127);
  }
  ::setpgid(pid, pid);
  r.started = true;
  close_fd(in[0]);
  close_fd(out[1]);
  close_fd(err[1]);
  ::signal(SIGPIPE, SIG_IGN);
  int in_fd = in[1], out_fd = out[0], err_fd = err[0];
  ::fcntl(in_fd, F_SETFL, O_NONBLOCK);
  size_t written = 0;
  if (options.input.empty()) close_fd(in_fd);
  auto deadline = start + options.timeout;
  char buf[65536];
  while (out_fd >= 0 || err_fd >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      r.timed_out = true;
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      break;
    }
    pollfd fds[3];
    int n = 0;
    int idx_out = -1, idx_err = -1, idx_in = -1;
    if (out_fd >= 0) idx_out = n, fds[n++] = {out_fd, POLLIN, 0};
    if (err_fd >= 0) idx_err = n, fds[n++] = {err_fd, POLLIN, 0};
    if (in_fd >= 0) idx_in = n, fds[n++] = {in_fd, POLLOUT, 0};
    int ready = ::poll(fds, n, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (ready < 0 && errno != EINTR) break;
    auto drain = [&](int idx, int& fd, std::string& sink) {
      if (idx < 0 || !(fds[idx].revents & (POLLIN | POLLHUP | POLLERR))) return;
      ssize_t got = ::read(fd, buf, sizeof buf);
      if (got > 0) {
        if (!options.discard_output) sink.append(buf, static_cast<size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        close_fd(fd);
      }
    };
    drain(idx_out, out_fd, r.out);
    drain(idx_err, err_fd, r.err);
    if (idx_in >= 0 && (fds[idx_in].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t w = ::write(in_fd, options.input.data() + written, options.input.size() - written);
      if (w > 0) written += static_cast<size_t>(w);
      if (w < 0 && errno != EAGAIN && errno != EINTR) close_fd(in_fd);
      if (written == options.input.size()) close_fd(in_fd);
    }
  }
  close_fd(in_fd);
  close_fd(out_fd);
  close_fd(err_fd);
  int status = 0;
  // The pipes closed (or time ran out): the child is gone or about to be. Still bound the wait.
  while (true) {
    pid_t w = ::wait4(pid, &status, WNOHANG, &r.usage);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) break;
    if (Clock::now() > deadline) {
      r.timed_out = true;
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      ::wait4(pid, &status, 0, &r.usage);
      break;
    }
    ::usleep(1000);
  }
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (WIFEXITED(status)) {
    r.exited = true;
    r.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    r.signal = WTERMSIG(status);
    r.core_dumped = WCOREDUMP(status);
  }
  return r;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::string cur;
  for (char c : text) {
    if (c == '\r') continue;
    if (c == '\n') {
      lines.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) lines.push_back(cur);
  return lines;
}

}  // namespace tandem::testing
