#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "user/process.h"

namespace tandem::user {
namespace {

bool dumps_core(int sig) {
  switch (sig) {
    case SIGQUIT:
    case SIGILL:
    case SIGTRAP:
    case SIGABRT:
    case SIGBUS:
    case SIGFPE:
    case SIGSEGV:
    case SIGXCPU:
    case SIGXFSZ:
    case SIGSYS:
      return true;
    default:
      return false;
  }
}

bool ignored_by_default(int sig) {
  return sig == SIGCHLD || sig == SIGCONT || sig == SIGURG || sig == SIGWINCH || sig >= 32;
}

bool stops_by_default(int sig) {
  return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

}  // namespace

void exit_process(int status) {
  std::fflush(stdout);
  std::fflush(stderr);
  ::_exit(status);
}

void die_by_signal(int sig) {
  std::fflush(stdout);
  std::fflush(stderr);
  // Like QEMU: no host core dump of the emulator itself; the host process dies of `sig`.
  struct rlimit none = {0, 0};
  ::setrlimit(RLIMIT_CORE, &none);
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  ::sigaction(sig, &sa, nullptr);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
  ::raise(sig);
  ::_exit(128 + sig);
}

void deliver_signal(UserProcess& p, int sig, bool forced) {
  if (sig <= 0 || sig > 64) return;
  const uint64_t handler = p.signals.actions[sig].handler;
  if (!forced && sig != SIGKILL && sig != SIGSTOP) {
    if (handler == 1) return;  // SIG_IGN
    if (handler == 0 && (ignored_by_default(sig) || stops_by_default(sig))) return;
  }
  if (handler > 1) {
    fmt::print(stderr, "tandem: running guest signal handlers is not supported (signal {})\n", sig);
  }
  if (dumps_core(sig) || forced) {
    fmt::print(stderr, "tandem: uncaught target signal {} ({}) - core dumped\n", sig,
               ::strsignal(sig));
  }
  die_by_signal(sig);
}

}  // namespace tandem::user
