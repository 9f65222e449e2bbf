// The state of one emulated riscv64 Linux process (single-threaded) and the system call layer
// that serves its ecalls.
#pragma once

#include <time.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <type_traits>

#include "target/riscv/cpu_state.h"
#include "target/riscv/engine.h"
#include "user/address_space.h"

namespace tandem::user {

// riscv64's siginfo_t (the generic 64-bit layout, also x86-64's): 128 bytes.
struct GuestSiginfo {
  int32_t si_signo;
  int32_t si_errno;
  int32_t si_code;
  int32_t pad;
  // The union: kill/tkill {int pid; unsigned uid}, faults {void* addr}, ...
  uint8_t fields[112];
};
static_assert(sizeof(GuestSiginfo) == 128 && std::is_trivial_v<GuestSiginfo>);

// riscv64's stack_t.
struct GuestStack {
  uint64_t ss_sp;
  int32_t ss_flags;
  int32_t pad;
  uint64_t ss_size;
};
static_assert(sizeof(GuestStack) == 24);

// The guest's signal state, kept apart from the host's: dispositions, the blocked mask, the
// pending set, the alternate stack, and what a system call interrupted by a signal needs to
// be restarted. Bit (sig - 1) of a mask stands for signal sig.
struct GuestSignals {
  struct Action {
    uint64_t handler = 0;  // 0 = SIG_DFL, 1 = SIG_IGN, else a guest function
    uint64_t flags = 0;
    uint64_t mask = 0;
  };
  Action actions[65];
  uint64_t blocked = 0;
  uint64_t pending = 0;
  GuestSiginfo info[65] = {};  // of each pending signal (standard signals do not queue)

  // sigaltstack: base, size and the flag bits kept (SS_AUTODISARM); size 0 = disabled.
  uint64_t altstack_sp = 0;
  uint64_t altstack_size = 0;
  uint32_t altstack_flags = 0;

  // rt_sigsuspend: the mask to restore once the signal that ended it has been handled.
  bool restore_mask = false;
  uint64_t saved_mask = 0;

  // The last system call returned -EINTR: its number and original a0, to restart it (pc back
  // on the ecall, a0 restored) unless a handler without SA_RESTART runs.
  bool interrupted = false;
  int interrupted_nr = 0;
  uint64_t orig_a0 = 0;

  // The read+exec guest page holding `li a7, 139; ecall` that handlers return to.
  uint64_t sigreturn_trampoline = 0;
};

struct UserProcess {
  AddressSpace* as = nullptr;
  riscv::CpuState* cpu = nullptr;
  riscv::ExecutionEngine* engine = nullptr;
  uint64_t brk_start = 0;
  uint64_t brk_cur = 0;
  uint64_t mmap_top = 0;  // mmap(NULL, ...) allocates below this, top-down
  std::string exe_path;   // absolute path of the guest program (/proc/self/exe)
  bool strace = false;
  FILE* log = stderr;
  GuestSignals signals;
};

// Serves the ecall at cpu.pc: reads a7/a0..a5, writes a0. Returns normally when the guest
// continues; exits the host process for exit/exit_group or a fatal signal.
void do_syscall(UserProcess& p);

// ---- Signals (signals.cc) -------------------------------------------------------------------

// Maps the sigreturn trampoline page and installs the host handlers that turn asynchronous
// host signals (SIGINT, SIGALRM, SIGCHLD, ...) into pending guest signals; dispositions the
// host process inherited as ignored stay ignored for the guest. Call once, before running.
void init_signals(UserProcess& p, uint64_t trampoline_below);

// A synchronous fault of the instruction at cpu.pc (SIGSEGV, SIGILL, SIGTRAP, SIGBUS with
// si_code and si_addr). Runs the guest handler now (the faulting instruction runs again when
// it returns); when the signal is blocked, ignored or defaulted, the process dies of it.
void force_signal(UserProcess& p, int sig, int code, uint64_t addr);

// Makes `sig` pending for the guest, as kill/tgkill to itself does (SI_USER / SI_TKILL).
void send_signal_to_self(UserProcess& p, int sig, int code);

// Delivers every pending, unblocked signal: handler frames, default actions (which may end
// the process), and the restart or -EINTR of an interrupted system call. Call at each
// instruction boundary where the loop regains control.
void deliver_pending_signals(UserProcess& p);

// Moves host signals that arrived into the guest's pending set; true when one of the pending,
// unblocked signals would do something (run a handler, or the default action that is not
// "ignore"): what interrupts a blocking call.
bool signal_interrupts(UserProcess& p);

// rt_sigreturn from the frame at sp: restores registers, mask and alternate stack.
void do_rt_sigreturn(UserProcess& p);

// rt_sigaction's disposition change (the host side follows: ignored, caught, or default).
void set_guest_action(UserProcess& p, int sig, const GuestSignals::Action& action);

// rt_sigsuspend: waits with `mask` blocked until a signal is to be delivered; returns -EINTR.
int64_t sigsuspend_guest(UserProcess& p, uint64_t mask);

// rt_sigtimedwait: takes a pending signal of `set` (its number, info filled), or -EAGAIN when
// `timeout` (updated, may be null: no limit) runs out, or -EINTR for another signal.
int64_t sigtimedwait_guest(UserProcess& p, uint64_t set, GuestSiginfo* info, timespec* timeout);

// sigaltstack with the kernel's checks (EPERM on the stack, EINVAL, ENOMEM under MINSIGSTKSZ).
int64_t sigaltstack_guest(UserProcess& p, const GuestStack* ss, GuestStack* old, uint64_t sp);

// Ends the host process the way the guest process ends.
[[noreturn]] void exit_process(int status);
[[noreturn]] void die_by_signal(int sig);

}  // namespace tandem::user
