// The riscv64 Linux signal frame (struct rt_sigframe of arch/riscv/kernel/signal.c) that a
// handler receives on its stack: the siginfo, then the ucontext with the interrupted registers
// and signal mask, which rt_sigreturn reads back (a handler may change them).
#pragma once

#include <cstddef>
#include <cstdint>

#include "target/riscv/cpu_state.h"
#include "user/process.h"

namespace tandem::user {

// struct sigcontext: user_regs_struct (pc, then x1..x31) and union __riscv_fp_state, whose
// largest member (the Q extension's) makes it 528 bytes; the D variant used here is f[32]
// then fcsr.
struct alignas(16) GuestSigcontext {
  uint64_t regs[32];  // regs[0] = pc, regs[i] = x[i]
  uint64_t f[32];
  uint32_t fcsr;
  uint8_t fp_reserved[528 - 32 * 8 - 4];
};
static_assert(sizeof(GuestSigcontext) == 256 + 528);

// struct ucontext: uc_sigmask is followed by room for a 1024-bit sigset, then the 16-byte
// aligned machine context.
struct GuestUcontext {
  uint64_t uc_flags;
  uint64_t uc_link;
  GuestStack uc_stack;
  uint64_t uc_sigmask;
  uint8_t unused[1024 / 8 - 8];
  GuestSigcontext uc_mcontext;
};
static_assert(offsetof(GuestUcontext, uc_sigmask) == 40);
static_assert(offsetof(GuestUcontext, uc_mcontext) == 176);
static_assert(sizeof(GuestUcontext) == 960);

struct GuestRtSigframe {
  GuestSiginfo info;
  GuestUcontext uc;
};
static_assert(offsetof(GuestRtSigframe, uc) == 128);
static_assert(sizeof(GuestRtSigframe) == 1088);

// The interrupted state into / out of the frame (fcsr = frm << 5 | fflags).
void save_sigcontext(const riscv::CpuState& cpu, GuestSigcontext& sc);
void restore_sigcontext(const GuestSigcontext& sc, riscv::CpuState& cpu);

// The two instructions of the sigreturn trampoline: li a7, 139 (rt_sigreturn); ecall.
inline constexpr uint32_t kSigreturnTrampoline[2] = {0x08b00893, 0x00000073};

}  // namespace tandem::user
