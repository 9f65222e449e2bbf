#include "user/signal_frame.h"

#include <gtest/gtest.h>

#include <cstring>

#include "target/riscv/decode.h"

namespace tandem::user {
namespace {

riscv::CpuState patterned() {
  riscv::CpuState cpu;
  cpu.pc = 0x10abc;
  for (int i = 1; i < 32; ++i) cpu.x[i] = 0x1111111100000000ull * (i & 7) + i;
  for (int i = 0; i < 32; ++i) cpu.f[i] = 0xffffffff00000000ull | (0x4000u + i);
  cpu.frm = riscv::kRUP;
  cpu.fflags = riscv::kNX | riscv::kOF;
  return cpu;
}

TEST(SignalFrame, SavesPcThenXRegistersThenFpState) {
  const riscv::CpuState cpu = patterned();
  GuestSigcontext sc;
  save_sigcontext(cpu, sc);
  EXPECT_EQ(sc.regs[0], cpu.pc);
  for (int i = 1; i < 32; ++i) EXPECT_EQ(sc.regs[i], cpu.x[i]) << i;
  for (int i = 0; i < 32; ++i) EXPECT_EQ(sc.f[i], cpu.f[i]) << i;
  EXPECT_EQ(sc.fcsr, (3u << 5) | 5u);
  // The byte layout glibc's mcontext_t reads: __gregs[32], then __fpregs.__d {f[32], fcsr}.
  uint8_t raw[sizeof sc];
  std::memcpy(raw, &sc, sizeof sc);
  uint64_t pc, sp, f31;
  uint32_t fcsr;
  std::memcpy(&pc, raw, 8);
  std::memcpy(&sp, raw + 2 * 8, 8);
  std::memcpy(&f31, raw + 256 + 31 * 8, 8);
  std::memcpy(&fcsr, raw + 512, 4);
  EXPECT_EQ(pc, cpu.pc);
  EXPECT_EQ(sp, cpu.x[2]);
  EXPECT_EQ(f31, cpu.f[31]);
  EXPECT_EQ(fcsr, sc.fcsr);
}

TEST(SignalFrame, RestoreIsTheInverseAndKeepsX0Zero) {
  const riscv::CpuState cpu = patterned();
  GuestSigcontext sc;
  save_sigcontext(cpu, sc);
  sc.regs[0] = 0x2000;  // a handler moved the pc
  sc.fcsr = 0xff;       // frm 7, fflags 0x1f
  riscv::CpuState back;
  restore_sigcontext(sc, back);
  EXPECT_EQ(back.pc, 0x2000u);
  EXPECT_EQ(back.x[0], 0u);
  for (int i = 1; i < 32; ++i) EXPECT_EQ(back.x[i], cpu.x[i]) << i;
  for (int i = 0; i < 32; ++i) EXPECT_EQ(back.f[i], cpu.f[i]) << i;
  EXPECT_EQ(back.frm, 7u);
  EXPECT_EQ(back.fflags, 0x1fu);
}

TEST(SignalFrame, TrampolineCallsRtSigreturn) {
  const riscv::DecodedInsn li = riscv::decode(kSigreturnTrampoline[0]);
  EXPECT_EQ(li.op, riscv::Op::kAddi);
  EXPECT_EQ(li.rd, 17);
  EXPECT_EQ(li.rs1, 0);
  EXPECT_EQ(li.imm, 139);
  EXPECT_EQ(riscv::decode(kSigreturnTrampoline[1]).op, riscv::Op::kEcall);
}

}  // namespace
}  // namespace tandem::user
