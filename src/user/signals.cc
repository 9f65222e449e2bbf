// Guest signals as the riscv64 Linux kernel handles them: dispositions, the blocked mask and
// pending set (all emulated, apart from the host's own), handler frames and rt_sigreturn,
// the alternate stack, default actions, and the restart of interrupted system calls.
//
// Asynchronous host signals (SIGINT, SIGALRM, SIGCHLD, ...) are caught by a host handler that
// only records them and asks the engine to leave generated code; the run loop then delivers
// them at the next instruction boundary. The host handler has no SA_RESTART, so a blocking
// host system call returns EINTR and the guest call is restarted or fails with EINTR as the
// kernel would decide. (A signal that lands between the run loop's check and the start of a
// blocking host call is noticed only when that call returns; rt_sigsuspend has no such gap.)
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "base/error.h"
#include "user/process.h"
#include "user/signal_frame.h"
#include "user/syscall_table.h"

namespace tandem::user {
namespace {

// riscv64 (generic) sa_flags and stack flags; the values match x86-64's.
constexpr uint64_t kSaNoCldStop = 0x1, kSaNoCldWait = 0x2, kSaOnStack = 0x08000000,
                   kSaRestart = 0x10000000, kSaNoDefer = 0x40000000, kSaResetHand = 0x80000000;
constexpr int32_t kSsOnStack = 1, kSsDisable = 2;
constexpr uint32_t kSsAutoDisarm = 1u << 31;
constexpr uint64_t kMinSigStackSize = 2048;  // riscv64 MINSIGSTKSZ
constexpr int kSiKernel = 0x80;

constexpr uint64_t bit(int sig) {
  return 1ull << (sig - 1);
}
constexpr uint64_t kUnblockable = bit(SIGKILL) | bit(SIGSTOP);
constexpr uint64_t kSynchronous =
    bit(SIGSEGV) | bit(SIGBUS) | bit(SIGILL) | bit(SIGTRAP) | bit(SIGFPE) | bit(SIGSYS);

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
  return sig == SIGCHLD || sig == SIGCONT || sig == SIGURG || sig == SIGWINCH;
}

bool stops_by_default(int sig) {
  return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

// ---- Host side ------------------------------------------------------------------------------

// Host signals that stand for the same guest signal and are caught while the guest runs. The
// synchronous ones (SIGSEGV, SIGBUS: the translator's; SIGILL, SIGFPE, SIGTRAP: a fault of
// Tandem itself) keep their host handling; glibc reserves 32 and 33.
bool host_catchable(int sig) {
  switch (sig) {
    case SIGKILL:
    case SIGSTOP:
    case SIGSEGV:
    case SIGBUS:
    case SIGILL:
    case SIGFPE:
    case SIGTRAP:
    case SIGSYS:
    case 32:
    case 33:
      return false;
    default:
      return sig >= 1 && sig <= 64;
  }
}

std::atomic<uint64_t> g_host_pending{0};
siginfo_t g_host_info[65];
riscv::ExecutionEngine* volatile g_engine = nullptr;
static_assert(std::atomic<uint64_t>::is_always_lock_free);

void host_handler(int sig, siginfo_t* info, void*) {
  const int saved_errno = errno;
  std::memcpy(&g_host_info[sig], info, sizeof(siginfo_t));
  g_host_pending.fetch_or(bit(sig));
  if (riscv::ExecutionEngine* e = g_engine) e->request_exit();
  errno = saved_errno;
}

sigset_t caught_set() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig = 1; sig <= 64; ++sig) {
    if (host_catchable(sig)) sigaddset(&set, sig);
  }
  return set;
}

// The host disposition that serves the guest's: ignored stays ignored in the kernel (so that
// e.g. a write to a closed pipe just fails with EPIPE), a default stop stays the kernel's, and
// everything else is caught and decided here.
void sync_host_action(const GuestSignals::Action& a, int sig) {
  if (!host_catchable(sig)) return;
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  if (a.handler == 1) {
    sa.sa_handler = SIG_IGN;
  } else if (a.handler == 0 && stops_by_default(sig)) {
    sa.sa_handler = SIG_DFL;
  } else {
    sa.sa_sigaction = host_handler;
    sa.sa_flags = SA_SIGINFO;
    if (sig == SIGCHLD) sa.sa_flags |= static_cast<int>(a.flags & (kSaNoCldStop | kSaNoCldWait));
    sa.sa_mask = caught_set();
  }
  ::sigaction(sig, &sa, nullptr);
}

// Moves the host signals that arrived into the guest's pending set.
void drain_host_pending(UserProcess& p) {
  if (g_host_pending.load(std::memory_order_relaxed) == 0) return;
  const sigset_t caught = caught_set();
  sigset_t old;
  ::sigprocmask(SIG_BLOCK, &caught, &old);
  const uint64_t bits = g_host_pending.exchange(0);
  siginfo_t infos[65];
  for (int sig = 1; sig <= 64; ++sig) {
    if (bits & bit(sig)) std::memcpy(&infos[sig], &g_host_info[sig], sizeof(siginfo_t));
  }
  ::sigprocmask(SIG_SETMASK, &old, nullptr);
  for (int sig = 1; sig <= 64; ++sig) {
    if (!(bits & bit(sig))) continue;
    // The generic siginfo layout is the same on both 64-bit ABIs.
    GuestSiginfo gi{};
    static_assert(sizeof(siginfo_t) == sizeof(GuestSiginfo));
    std::memcpy(&gi, &infos[sig], sizeof gi);
    gi.si_signo = sig;
    GuestSignals& s = p.signals;
    const GuestSignals::Action& a = s.actions[sig];
    const bool ignored = a.handler == 1 || (a.handler == 0 && ignored_by_default(sig));
    if (ignored && !(s.blocked & bit(sig))) continue;  // discarded when generated
    if (!(s.pending & bit(sig))) s.info[sig] = gi;
    s.pending |= bit(sig);
  }
}

// ---- Guest side -----------------------------------------------------------------------------

bool on_sig_stack(const GuestSignals& s, uint64_t sp) {
  if (s.altstack_flags & kSsAutoDisarm) return false;
  return sp > s.altstack_sp && sp - s.altstack_sp <= s.altstack_size;
}

int32_t sas_ss_flags(const GuestSignals& s, uint64_t sp) {
  if (s.altstack_size == 0) return kSsDisable;
  return on_sig_stack(s, sp) ? kSsOnStack : 0;
}

void log_signal(UserProcess& p, int sig, const GuestSiginfo& info) {
  if (!p.strace) return;
  const char* name = ::sigabbrev_np(sig);
  fmt::print(p.log, "--- SIG{} {{si_signo={}, si_code={}", name ? name : "?", sig, info.si_code);
  if (kSynchronous & bit(sig)) {
    uint64_t addr;
    std::memcpy(&addr, info.fields, 8);
    fmt::print(p.log, ", si_addr=0x{:x}", addr);
  }
  fmt::print(p.log, "}} ---\n");
  std::fflush(p.log);
}

[[noreturn]] void die_uncaught(int sig) {
  if (dumps_core(sig)) {
    fmt::print(stderr, "tandem: uncaught target signal {} ({}) - core dumped\n", sig,
               ::strsignal(sig));
  }
  die_by_signal(sig);
}

// The default action of a delivered signal: ignore, stop (the host process stops itself, so
// the shell sees the same), or end the process.
void default_action(int sig) {
  if (ignored_by_default(sig)) return;
  if (stops_by_default(sig)) {
    ::kill(::getpid(), SIGSTOP);
    return;
  }
  die_uncaught(sig);
}

// Builds the frame and points the CPU at the handler. False when the frame cannot be written
// (bad stack): the caller then kills the process with SIGSEGV, as the kernel does.
bool setup_frame(UserProcess& p, int sig, const GuestSignals::Action& a, const GuestSiginfo& info) {
  riscv::CpuState& cpu = *p.cpu;
  GuestSignals& s = p.signals;
  constexpr uint64_t kSize = sizeof(GuestRtSigframe);
  uint64_t sp = cpu.x[2];
  // Overflowing the alternate stack from inside it is fatal rather than silently wrapping.
  if (on_sig_stack(s, sp) && !on_sig_stack(s, sp - kSize)) return false;
  if ((a.flags & kSaOnStack) && sas_ss_flags(s, sp) == 0) sp = s.altstack_sp + s.altstack_size;
  const uint64_t frame_addr = (sp - kSize) & ~uint64_t{15};
  if (frame_addr > sp) return false;

  GuestRtSigframe f;
  std::memset(&f, 0, sizeof f);
  f.info = info;
  f.uc.uc_stack.ss_sp = s.altstack_sp;
  f.uc.uc_stack.ss_flags = static_cast<int32_t>(s.altstack_flags);
  f.uc.uc_stack.ss_size = s.altstack_size;
  f.uc.uc_sigmask = s.restore_mask ? s.saved_mask : s.blocked;
  save_sigcontext(cpu, f.uc.uc_mcontext);

  uint8_t* h = p.as->translate(frame_addr, kSize, riscv::Access::kWrite);
  if (!h) return false;
  p.engine->prepare_host_write(frame_addr, kSize);
  std::memcpy(h, &f, kSize);

  if (s.altstack_flags & kSsAutoDisarm) {
    s.altstack_sp = s.altstack_size = 0;
    s.altstack_flags = 0;
  }
  s.restore_mask = false;
  cpu.x[1] = s.sigreturn_trampoline;
  cpu.x[2] = frame_addr;
  cpu.x[10] = static_cast<uint64_t>(sig);
  cpu.x[11] = frame_addr + offsetof(GuestRtSigframe, info);
  cpu.x[12] = frame_addr + offsetof(GuestRtSigframe, uc);
  cpu.pc = a.handler;
  cpu.reservation_valid = false;
  s.blocked |= a.mask;
  if (!(a.flags & kSaNoDefer)) s.blocked |= bit(sig);
  s.blocked &= ~kUnblockable;
  return true;
}

// Runs the handler of `sig` (a copy of its action: SA_RESETHAND has already reset it).
void run_handler(UserProcess& p, int sig, const GuestSignals::Action& a, const GuestSiginfo& info) {
  log_signal(p, sig, info);
  if (!setup_frame(p, sig, a, info)) {
    fmt::print(stderr, "tandem: cannot build the frame for signal {} at sp 0x{:x}\n", sig,
               p.cpu->x[2]);
    die_uncaught(SIGSEGV);
  }
}

// The action to run for `sig` now; SA_RESETHAND resets the disposition as it is taken.
GuestSignals::Action take_action(UserProcess& p, int sig) {
  GuestSignals::Action& slot = p.signals.actions[sig];
  const GuestSignals::Action a = slot;
  if (a.handler > 1 && (a.flags & kSaResetHand)) set_guest_action(p, sig, {0, a.flags, a.mask});
  return a;
}

int next_deliverable(const GuestSignals& s) {
  const uint64_t ready = s.pending & ~s.blocked;
  if (!ready) return 0;
  const uint64_t sync = ready & kSynchronous;
  return __builtin_ctzll(sync ? sync : ready) + 1;
}

// System calls that a handler interrupts with EINTR even under SA_RESTART (the kernel's
// ERESTARTNOHAND and ERESTART_RESTARTBLOCK calls).
bool restartable_with_sa_restart(int nr) {
  switch (nr) {
    case kSys_ppoll:
    case kSys_rt_sigsuspend:
    case kSys_rt_sigtimedwait:
    case kSys_nanosleep:
    case kSys_clock_nanosleep:
      return false;
    default:
      return true;
  }
}

void restart_syscall(UserProcess& p) {
  p.cpu->pc -= 4;
  p.cpu->x[10] = p.signals.orig_a0;
}

}  // namespace

// ---- Process end ------------------------------------------------------------------------------

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

// ---- Set-up and dispositions ------------------------------------------------------------------

void init_signals(UserProcess& p, uint64_t trampoline_below) {
  AddressSpace& as = *p.as;
  const auto page = as.find_free(kPageSize, trampoline_below);
  if (!page || as.map_fixed(*page, kPageSize, PROT_READ | PROT_WRITE) != 0) {
    fail("cannot map the signal return trampoline");
  }
  as.write_bytes(*page, kSigreturnTrampoline, sizeof kSigreturnTrampoline);
  as.protect(*page, kPageSize, PROT_READ | PROT_EXEC);
  p.signals.sigreturn_trampoline = *page;

  // execve keeps the signal mask and ignored dispositions: so does this "exec" of the guest.
  sigset_t host_mask;
  ::sigprocmask(SIG_SETMASK, nullptr, &host_mask);
  for (int sig = 1; sig <= 64; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP && sigismember(&host_mask, sig) == 1) {
      p.signals.blocked |= bit(sig);
    }
    if (!host_catchable(sig)) continue;
    struct sigaction old;
    if (::sigaction(sig, nullptr, &old) == 0 && !(old.sa_flags & SA_SIGINFO) &&
        old.sa_handler == SIG_IGN) {
      p.signals.actions[sig].handler = 1;
    }
    sync_host_action(p.signals.actions[sig], sig);
  }
  g_engine = p.engine;
  // The guest's mask is emulated: the host lets every caught signal in.
  const sigset_t caught = caught_set();
  ::sigprocmask(SIG_UNBLOCK, &caught, nullptr);
}

void set_guest_action(UserProcess& p, int sig, const GuestSignals::Action& action) {
  GuestSignals& s = p.signals;
  s.actions[sig] = action;
  // POSIX: setting a disposition that ignores a pending signal discards it.
  if (action.handler == 1 || (action.handler == 0 && ignored_by_default(sig))) {
    s.pending &= ~bit(sig);
  }
  sync_host_action(action, sig);
}

// ---- Generation and delivery ------------------------------------------------------------------

void send_signal_to_self(UserProcess& p, int sig, int code) {
  GuestSignals& s = p.signals;
  const GuestSignals::Action& a = s.actions[sig];
  const bool ignored = a.handler == 1 || (a.handler == 0 && ignored_by_default(sig));
  if (ignored && !(s.blocked & bit(sig)) && sig != SIGKILL && sig != SIGSTOP) return;
  if (s.pending & bit(sig)) return;  // standard signals do not queue
  GuestSiginfo info{};
  info.si_signo = sig;
  info.si_code = code;
  const int32_t pid = ::getpid();
  const uint32_t uid = ::getuid();
  std::memcpy(info.fields, &pid, 4);
  std::memcpy(info.fields + 4, &uid, 4);
  s.info[sig] = info;
  s.pending |= bit(sig);
}

void force_signal(UserProcess& p, int sig, int code, uint64_t addr) {
  GuestSignals& s = p.signals;
  // A fault that cannot be handled (blocked or ignored) resets the disposition: it kills.
  if ((s.blocked & bit(sig)) || s.actions[sig].handler == 1) {
    s.actions[sig].handler = 0;
    s.blocked &= ~bit(sig);
  }
  GuestSiginfo info{};
  info.si_signo = sig;
  info.si_code = code;
  std::memcpy(info.fields, &addr, 8);
  if (s.actions[sig].handler == 0) {
    log_signal(p, sig, info);
    die_uncaught(sig);
  }
  run_handler(p, sig, take_action(p, sig), info);
}

bool signal_interrupts(UserProcess& p) {
  drain_host_pending(p);
  const GuestSignals& s = p.signals;
  const uint64_t ready = s.pending & ~s.blocked;
  for (int sig = 1; sig <= 64; ++sig) {
    if (!(ready & bit(sig))) continue;
    const uint64_t h = s.actions[sig].handler;
    if (h > 1 || (h == 0 && !ignored_by_default(sig) && !stops_by_default(sig))) return true;
    if (sig == SIGKILL) return true;
  }
  return false;
}

void deliver_pending_signals(UserProcess& p) {
  drain_host_pending(p);
  GuestSignals& s = p.signals;
  for (int sig; (sig = next_deliverable(s)) != 0;) {
    s.pending &= ~bit(sig);
    const GuestSiginfo info = s.info[sig];
    const uint64_t h = s.actions[sig].handler;
    if (h == 1 && sig != SIGKILL && sig != SIGSTOP) continue;
    if (h == 0 || sig == SIGKILL || sig == SIGSTOP) {
      log_signal(p, sig, info);
      default_action(sig);
      continue;
    }
    const GuestSignals::Action a = take_action(p, sig);
    if (s.interrupted) {
      // The handler runs "on return" from the interrupted call: restart it afterwards (pc on
      // the ecall, original a0) under SA_RESTART, else it returns -EINTR (already in a0).
      s.interrupted = false;
      if ((a.flags & kSaRestart) && restartable_with_sa_restart(s.interrupted_nr)) {
        restart_syscall(p);
      }
    }
    run_handler(p, sig, a, info);
  }
  if (s.interrupted) {
    // No handler ran: the call resumes transparently, as the kernel restarts it.
    s.interrupted = false;
    restart_syscall(p);
  }
  if (s.restore_mask) {
    s.restore_mask = false;
    s.blocked = s.saved_mask;
  }
}

void do_rt_sigreturn(UserProcess& p) {
  riscv::CpuState& cpu = *p.cpu;
  GuestSignals& s = p.signals;
  const uint64_t frame_addr = cpu.x[2];
  GuestRtSigframe f;
  const uint8_t* h = p.as->translate(frame_addr, sizeof f, riscv::Access::kRead);
  if (p.strace) {
    fmt::print(p.log, "{} rt_sigreturn(frame=0x{:x})\n", ::getpid(), frame_addr);
    std::fflush(p.log);
  }
  if (!h) {
    force_signal(p, SIGSEGV, kSiKernel, 0);
    return;
  }
  std::memcpy(&f, h, sizeof f);
  s.blocked = f.uc.uc_sigmask & ~kUnblockable;
  restore_sigcontext(f.uc.uc_mcontext, cpu);
  cpu.reservation_valid = false;
  // The alternate stack as the frame holds it (errors, e.g. still on it, are ignored).
  sigaltstack_guest(p, &f.uc.uc_stack, nullptr, cpu.x[2]);
}

int64_t sigsuspend_guest(UserProcess& p, uint64_t mask) {
  GuestSignals& s = p.signals;
  s.saved_mask = s.blocked;
  s.restore_mask = true;
  s.blocked = mask & ~kUnblockable;
  // Check and wait atomically: the caught host signals stay blocked except inside
  // sigsuspend, so one arriving after the check still ends the wait.
  const sigset_t caught = caught_set();
  sigset_t old;
  ::sigprocmask(SIG_BLOCK, &caught, &old);
  sigset_t wait_mask = old;
  for (int sig = 1; sig <= 64; ++sig) {
    if (host_catchable(sig)) sigdelset(&wait_mask, sig);
  }
  while (!signal_interrupts(p)) ::sigsuspend(&wait_mask);
  ::sigprocmask(SIG_SETMASK, &old, nullptr);
  return -EINTR;
}

int64_t sigtimedwait_guest(UserProcess& p, uint64_t set, GuestSiginfo* info, timespec* timeout) {
  const uint64_t wanted = set & ~kUnblockable;
  // Waits with the caught host signals let in only inside ppoll, so none is missed.
  const sigset_t caught = caught_set();
  sigset_t old;
  ::sigprocmask(SIG_BLOCK, &caught, &old);
  int64_t result = -EAGAIN;
  for (;;) {
    const bool interrupted = signal_interrupts(p);
    GuestSignals& s = p.signals;
    if (const uint64_t ready = s.pending & wanted) {
      const int sig = __builtin_ctzll(ready) + 1;
      s.pending &= ~bit(sig);
      *info = s.info[sig];
      result = sig;
      break;
    }
    if (interrupted) {
      result = -EINTR;
      break;
    }
    if (timeout && timeout->tv_sec == 0 && timeout->tv_nsec == 0) break;
    ::syscall(SYS_ppoll, nullptr, 0, timeout, &old, 8);
  }
  ::sigprocmask(SIG_SETMASK, &old, nullptr);
  return result;
}

int64_t sigaltstack_guest(UserProcess& p, const GuestStack* ss, GuestStack* old, uint64_t sp) {
  GuestSignals& s = p.signals;
  if (old) {
    old->ss_sp = s.altstack_sp;
    old->ss_size = s.altstack_size;
    old->ss_flags = sas_ss_flags(s, sp) | static_cast<int32_t>(s.altstack_flags & kSsAutoDisarm);
    old->pad = 0;
  }
  if (!ss) return 0;
  if (on_sig_stack(s, sp)) return -EPERM;
  const uint32_t flags = static_cast<uint32_t>(ss->ss_flags);
  const uint32_t mode = flags & ~kSsAutoDisarm;
  if (mode != static_cast<uint32_t>(kSsDisable) && mode != static_cast<uint32_t>(kSsOnStack) &&
      mode != 0) {
    return -EINVAL;
  }
  uint64_t base = ss->ss_sp, size = ss->ss_size;
  if (mode == static_cast<uint32_t>(kSsDisable)) {
    base = size = 0;
  } else if (size < kMinSigStackSize) {
    return -ENOMEM;
  }
  s.altstack_sp = base;
  s.altstack_size = size;
  s.altstack_flags = flags;
  return 0;
}

}  // namespace tandem::user
