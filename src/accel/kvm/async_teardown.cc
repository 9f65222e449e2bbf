#include "accel/kvm/async_teardown.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
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
  // The write end lives in Tandem only: end of file means it is done with the VM.
  char c;
  while (::read(parent_alive_fd, &c, 1) < 0 && errno == EINTR) {
  }
  _exit(0);  // drops the last reference to the VM
}

}  // namespace

UniqueFd start_async_teardown(int vm_fd) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) < 0) {
    TLOG_WARN("async teardown off: pipe: {}", std::strerror(errno));
    return UniqueFd();
  }
  UniqueFd read_end(fds[0]), write_end(fds[1]);
  pid_t child = ::fork();
  if (child < 0) {
    TLOG_WARN("async teardown off: fork: {}", std::strerror(errno));
    return UniqueFd();
  }
  if (child == 0) {
    // The teardown process is a grandchild, so that init reaps it, not Tandem.
    // _Fork: no atfork handlers, safe in the child of a process with threads.
    pid_t grandchild = ::_Fork();
    if (grandchild == 0) teardown_child(vm_fd, read_end.get());
    _exit(grandchild < 0 ? 1 : 0);
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    TLOG_WARN("async teardown off: the teardown process did not start");
    return UniqueFd();
  }
  return write_end;  // the read end closes here: only the teardown process keeps one
}

}  // namespace tandem::kvm
