// The state of one emulated riscv64 Linux process (single-threaded) and the system call layer
// that serves its ecalls.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "target/riscv/cpu_state.h"
#include "target/riscv/engine.h"
#include "user/address_space.h"

namespace tandem::user {

// Guest signal dispositions (recorded; handlers are not run — see deliver_signal()).
struct GuestSignals {
  struct Action {
    uint64_t handler = 0;  // 0 = SIG_DFL, 1 = SIG_IGN, else a guest function
    uint64_t flags = 0;
    uint64_t mask = 0;
  };
  Action actions[65];
  uint64_t blocked = 0;
  uint64_t altstack[3] = {0, 2 /* SS_DISABLE */, 0};
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

// Applies the guest's disposition for `sig` (a fault when `forced`, else a kill of itself).
// With the default action the host process ends with the same signal, like QEMU; a fault
// cannot be ignored. Running guest signal handlers is not supported: a signal that would run
// one takes the default action after a diagnostic.
void deliver_signal(UserProcess& p, int sig, bool forced);

// Ends the host process the way the guest process ends.
[[noreturn]] void exit_process(int status);
[[noreturn]] void die_by_signal(int sig);

}  // namespace tandem::user
