#include "accel/kvm/async_teardown.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/log.h"

namespace tandem::kvm {

namespace {

// Closes every descriptor but a and b (a < b). Only system calls: this runs in a child forked
// from a process that may have threads.
void close_all_but(int a, int b) {
  if (a > 0) ::close_range(0, static_cast<unsigned>(a - 1), 0);
  if (b > a + 1) ::close_range(static_cast<unsigned>(a + 1), static_cast<unsigned>(b - 1), 0);
  ::close_range(static_cast<unsigned>(b + 1), ~0u, 0);
}

[[noreturn]] void teardown_child(int vm_fd, int parent_alive_fd) {
  // Signals meant for Tandem's process group (Ctrl-C on a cooked terminal) are not for us.
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, nullptr);
  prctl(PR_SET_NAME, "tandem-teardown", 0, 0, 0);
  close_all_but(std::min(vm_fd, parent_alive_fd), std::max(vm_fd, parent_alive_fd));
  // The write end lives in Tandem only: end of file means it has exited.
  char c;
  while (::read(parent_alive_fd, &c, 1) < 0 && errno == EINTR) {
  }
  _exit(0);  // drops the last reference to the VM
}

}  // namespace

void start_async_teardown(int vm_fd) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) < 0) {
    TLOG_WARN("async teardown off: pipe: {}", std::strerror(errno));
    return;
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    TLOG_WARN("async teardown off: fork: {}", std::strerror(errno));
    ::close(fds[0]);
    ::close(fds[1]);
    return;
  }
  if (pid == 0) teardown_child(vm_fd, fds[0]);
  ::close(fds[0]);
  // fds[1] stays open until Tandem exits (close-on-exec keeps it out of anything it runs).
}

}  // namespace tandem::kvm
