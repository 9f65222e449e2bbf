// The execution engine end to end on small hand-assembled programs: loops through chained
// blocks and the jump cache, self-modifying code (with and without fence.i), precise faults
// from host SIGSEGV in generated code, and asynchronous exit requests.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <thread>

#include "accel/tcg/engine.h"
#include "accel/tcg/test_memory.h"
#include "target/riscv/interp.h"

namespace tandem::tcg {
namespace {

using riscv::CpuState;
using riscv::ExitInfo;
using riscv::ExitKind;

uint32_t I(uint32_t opc, uint32_t f3, uint32_t rd, uint32_t rs1, int32_t imm) {
  return (static_cast<uint32_t>(imm) & 0xfff) << 20 | rs1 << 15 | f3 << 12 | rd << 7 | opc;
}
uint32_t S(uint32_t f3, uint32_t rs1, uint32_t rs2, int32_t imm) {
  uint32_t u = static_cast<uint32_t>(imm);
  return ((u >> 5) & 0x7f) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | (u & 0x1f) << 7 | 0x23;
}
uint32_t B(uint32_t f3, uint32_t rs1, uint32_t rs2, int32_t imm) {
  uint32_t u = static_cast<uint32_t>(imm);
  return ((u >> 12) & 1) << 31 | ((u >> 5) & 0x3f) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 |
         ((u >> 1) & 0xf) << 8 | ((u >> 11) & 1) << 7 | 0x63;
}
uint32_t J(uint32_t rd, int32_t imm) {
  uint32_t u = static_cast<uint32_t>(imm);
  return ((u >> 20) & 1) << 31 | ((u >> 1) & 0x3ff) << 21 | ((u >> 11) & 1) << 20 |
         ((u >> 12) & 0xff) << 12 | rd << 7 | 0x6f;
}
uint32_t addi(uint32_t rd, uint32_t rs1, int32_t imm) {
  return I(0x13, 0, rd, rs1, imm);
}
uint32_t add(uint32_t rd, uint32_t rs1, uint32_t rs2) {
  return rs2 << 20 | rs1 << 15 | rd << 7 | 0x33;
}
uint32_t jalr(uint32_t rd, uint32_t rs1, int32_t imm) {
  return I(0x67, 0, rd, rs1, imm);
}
constexpr uint32_t kEcall = 0x73;
constexpr uint32_t kFenceI = 0x0000100f;
constexpr uint32_t kA0 = 10, kA1 = 11, kA2 = 12, kT0 = 5, kT1 = 6, kRa = 1;

class EngineTest : public ::testing::Test {
 protected:
  explicit EngineTest() : mem_(0x20000) { mem_.attach(cpu_); }

  void program(uint64_t at, std::initializer_list<uint32_t> words) {
    for (uint32_t w : words) {
      mem_.write32(at, w);
      at += 4;
    }
  }
  void make_engine(TcgOptions o = {}) {
    o.code_size = size_t{16} << 20;
    engine_ = std::make_unique<TcgEngine>(mem_, riscv::TraceOptions{}, o);
  }
  ExitInfo run_until_exit() {
    ExitInfo e;
    do e = engine_->run(cpu_);
    while (e.kind == ExitKind::kInterrupted || e.kind == ExitKind::kFenceI);
    return e;
  }

  testing::FlatMemory mem_;
  CpuState cpu_;
  std::unique_ptr<TcgEngine> engine_;
};

class LoopTest : public EngineTest, public ::testing::WithParamInterface<int> {};

TEST_P(LoopTest, LoopsWithCallsStayInGeneratedCode) {
  // a0 = sum of f(i) for i in [0, 100000), f(x) = x + 3 called through jal/jalr.
  program(0x1000, {
                      addi(kA0, 0, 0),                                // 1000: a0 = 0
                      addi(kA1, 0, 0),                                // 1004: a1 = i = 0
                      I(0x37, 0, 0, 0, 0) | (24 << 12) | (kA2 << 7),  // 1008: lui a2, 24 -> 98304
                      addi(kA2, kA2, 1696),                           // 100c: a2 = 100000
                      J(kRa, 0x2000 - 0x1010),                        // 1010: call f
                      add(kA0, kA0, kT0),                             // 1014: a0 += result
                      addi(kA1, kA1, 1),                              // 1018: i++
                      B(1, kA1, kA2, 0x1010 - 0x101c),                // 101c: bne -> call again
                      kEcall,                                         // 1020
                  });
  program(0x2000, {addi(kT0, kA1, 3), jalr(0, kRa, 0)});
  TcgOptions o;
  if (GetParam() == 1) o.chain = false;
  if (GetParam() == 2) o.jump_cache = false;
  if (GetParam() == 3) o.opt = OptFlags::none();
  make_engine(o);
  cpu_.pc = 0x1000;
  ExitInfo e = run_until_exit();
  EXPECT_EQ(e.kind, ExitKind::kEcall);
  EXPECT_EQ(cpu_.pc, 0x1020u);
  // The interpreter agrees.
  CpuState ref;
  mem_.attach(ref);
  ref.pc = 0x1000;
  EXPECT_EQ(riscv::interpret(ref, mem_, 10000000).kind, ExitKind::kEcall);
  EXPECT_EQ(ref.x[kA0], cpu_.x[kA0]);
  EXPECT_EQ(ref.instret, cpu_.instret);
  uint64_t n = 100000;
  EXPECT_EQ(cpu_.x[kA0], n * (n - 1) / 2 + 3 * n);
  EXPECT_EQ(cpu_.instret, 4 + 6 * n);
  // Chained and jump-cached: only a handful of trips through the dispatcher.
  if (GetParam() != 2) {
    EXPECT_LT(engine_->stats().lookups, 10u);
  }
  if (GetParam() != 1) {
    EXPECT_GT(engine_->stats().chains, 1u);
  }
  EXPECT_LT(engine_->stats().translations, 10u);
}
INSTANTIATE_TEST_SUITE_P(Variants, LoopTest, ::testing::Values(0, 1, 2, 3));

// The first pass executes `addi a0, zero, 1` at 0x1000, then overwrites it with
// `addi a0, zero, 2` and jumps back: the second pass must see the new instruction.
void self_modifying_program(EngineTest* t, testing::FlatMemory& mem, bool fence) {
  (void)t;
  const uint32_t new_insn = addi(kA0, 0, 2);
  auto w = [&](uint64_t a, uint32_t v) { mem.write32(a, v); };
  w(0x1000, addi(kA0, 0, 1));
  w(0x1004, B(1, kA1, 0, 0x1030 - 0x1004));  // bne a1, zero, done
  w(0x1008, addi(kA1, 0, 1));
  w(0x100c, ((new_insn & 0xfffff000) + ((new_insn & 0x800) << 1)) | (kT0 << 7) | 0x37);  // lui
  w(0x1010, I(0x1b, 0, kT0, kT0, static_cast<int32_t>(new_insn << 20) >> 20));           // addiw
  w(0x1014, 0x00000317);                       // auipc t1,0
  w(0x1018, S(2, kT1, kT0, 0x1000 - 0x1014));  // sw
  w(0x101c, fence ? kFenceI : addi(0, 0, 0));
  w(0x1020, J(0, 0x1000 - 0x1020));
  w(0x1030, kEcall);
}

// A branch over a few register-only instructions is if-converted: one block runs on past its
// target, keeping the skipped results only where the branch falls through, and retires only
// what ran (the interpreter is the reference). Both outcomes, and a loop of both.
TEST_F(EngineTest, ShortForwardBranchIsIfConverted) {
  // 0x1000: a2 = 0; loop: a0 = a2 & 1; beq a0, x0, +12 (over two); a1 += 5; a1 += a2;
  //         a2 += 1; bne a2, t0, loop; ecall
  program(0x1000, {addi(kA2, 0, 0), I(0x13, 7, kA0, kA2, 1), B(0, kA0, 0, 12), addi(kA1, kA1, 5),
                   add(kA1, kA1, kA2), addi(kA2, kA2, 1), B(1, kA2, kT0, -20), kEcall});
  for (uint64_t iterations : {1u, 2u, 1000u}) {
    make_engine();
    cpu_ = CpuState{};
    mem_.attach(cpu_);
    cpu_.x[kT0] = iterations;
    cpu_.pc = 0x1000;
    EXPECT_EQ(run_until_exit().kind, ExitKind::kEcall);
    CpuState ref;
    mem_.attach(ref);
    ref.x[kT0] = iterations;
    ref.pc = 0x1000;
    EXPECT_EQ(riscv::interpret(ref, mem_, 10000000).kind, ExitKind::kEcall);
    EXPECT_EQ(cpu_.x[kA1], ref.x[kA1]) << iterations;
    EXPECT_EQ(cpu_.x[kA2], iterations);
    EXPECT_EQ(cpu_.instret, ref.instret) << iterations;
    // The loop body is one block: nothing ends it at the short branch.
    EXPECT_LE(engine_->stats().translations, 3u) << iterations;
  }
}

// The cold tier: a block is left to the caller (kColdCode, pc unchanged) until the dispatcher
// has looked for it translate_after times; then it is translated and the loop runs chained. The
// caller here interprets one block per kColdCode, as the full-system hart does, and the result
// must match the interpreter's alone.
TEST_F(EngineTest, ColdCodeIsLeftToTheCallerUntilSeenEnoughTimes) {
  // a0 = 0; a1 = 0; loop: a0 += a1; a1 += 1; bne a1, t0, loop; ecall
  program(0x1000, {addi(kA0, 0, 0), addi(kA1, 0, 0), add(kA0, kA0, kA1), addi(kA1, kA1, 1),
                   B(1, kA1, kT0, -8), kEcall});
  TcgOptions o;
  o.translate_after = 3;
  make_engine(o);
  cpu_.x[kT0] = 50;
  cpu_.pc = 0x1000;
  // The entry block: three kColdCode exits, each leaving pc (and everything else) alone.
  for (int i = 0; i < 3; ++i) {
    const ExitInfo e = engine_->run(cpu_);
    ASSERT_EQ(e.kind, ExitKind::kColdCode) << i;
    EXPECT_EQ(e.info, 0x1000u);
    EXPECT_EQ(cpu_.pc, 0x1000u);
    EXPECT_EQ(cpu_.instret, 0u);
  }
  EXPECT_EQ(engine_->stats().translations, 0u);
  unsigned cold = 0;
  ExitInfo e;
  for (;;) {
    e = engine_->run(cpu_);
    if (e.kind == ExitKind::kColdCode) {
      ++cold;
      const riscv::InterpOptions one_block{.one_block = true};
      e = riscv::interpret(cpu_, mem_, 64, riscv::InsnHook{}, one_block);
    }
    if (e.kind != ExitKind::kInterrupted) break;
  }
  EXPECT_EQ(e.kind, ExitKind::kEcall);
  EXPECT_EQ(cpu_.x[kA0], 50u * 49 / 2);
  EXPECT_EQ(cpu_.instret, 2 + 3 * 50u);
  // The loop block was interpreted three times before it was translated, and the loop ran on
  // in generated code: a few translations, not one per iteration.
  EXPECT_EQ(cold, 3u + 1);  // + the ecall's block, run once
  EXPECT_LE(engine_->stats().translations, 3u);
  EXPECT_GE(engine_->stats().translations, 2u);
}

TEST_F(EngineTest, SelfModifyingCodeIsSeenWithoutFenceI) {
  self_modifying_program(this, mem_, false);
  make_engine();
  cpu_.pc = 0x1000;
  ExitInfo e = run_until_exit();
  EXPECT_EQ(e.kind, ExitKind::kEcall);
  EXPECT_EQ(cpu_.x[kA0], 2u);
  EXPECT_GE(engine_->stats().smc_faults, 1u);
  EXPECT_GE(engine_->stats().invalidations, 1u);
}

TEST_F(EngineTest, SelfModifyingCodeWithFenceI) {
  self_modifying_program(this, mem_, true);
  TcgOptions o;
  o.smc_protect = false;  // fence.i alone must be enough
  make_engine(o);
  cpu_.pc = 0x1000;
  ExitInfo e = engine_->run(cpu_);
  EXPECT_EQ(e.kind, ExitKind::kFenceI);
  e = run_until_exit();
  EXPECT_EQ(e.kind, ExitKind::kEcall);
  EXPECT_EQ(cpu_.x[kA0], 2u);
}

TEST_F(EngineTest, InvalidateCodeDropsStaleTranslations) {
  program(0x1000, {addi(kA0, 0, 7), kEcall});
  TcgOptions o;
  o.smc_protect = false;
  make_engine(o);
  cpu_.pc = 0x1000;
  EXPECT_EQ(run_until_exit().kind, ExitKind::kEcall);
  EXPECT_EQ(cpu_.x[kA0], 7u);
  program(0x1000, {addi(kA0, 0, 9)});
  engine_->invalidate_code(0x1000, 4);
  cpu_.pc = 0x1000;
  EXPECT_EQ(run_until_exit().kind, ExitKind::kEcall);
  EXPECT_EQ(cpu_.x[kA0], 9u);
}

// A system call's output buffer on a page whose code was translated: the host kernel answers
// EFAULT for a write-protected page, so prepare_host_write() must drop the translations and
// lift the protection of exactly the pages in the range.
TEST_F(EngineTest, PrepareHostWriteUnprotectsCodePagesForTheKernel) {
  program(0x1000, {addi(kA0, 0, 7), J(0, 0x3000 - 0x1004)});
  program(0x3000, {addi(kA1, 0, 1), kEcall});
  make_engine();
  cpu_.pc = 0x1000;
  EXPECT_EQ(run_until_exit().kind, ExitKind::kEcall);
  EXPECT_EQ(cpu_.x[kA0], 7u);

  int fds[2];
  ASSERT_EQ(0, ::pipe(fds));
  const uint32_t new_insn = addi(kA0, 0, 9);
  ASSERT_EQ(4, ::write(fds[1], &new_insn, 4));
  ASSERT_EQ(-1, ::read(fds[0], mem_.base() + 0x1000, 4)) << "code page not write-protected?";
  EXPECT_EQ(errno, EFAULT);
  engine_->prepare_host_write(0x1000, 4);
  EXPECT_EQ(4, ::read(fds[0], mem_.base() + 0x1000, 4));
  // The other code page keeps its protection.
  ASSERT_EQ(4, ::write(fds[1], &new_insn, 4));
  EXPECT_EQ(-1, ::read(fds[0], mem_.base() + 0x3004, 4));
  ::close(fds[0]);
  ::close(fds[1]);

  cpu_.pc = 0x1000;
  EXPECT_EQ(run_until_exit().kind, ExitKind::kEcall);
  EXPECT_EQ(cpu_.x[kA0], 9u);  // no stale translation, even without fence.i
}

TEST_F(EngineTest, HostFaultInGeneratedCodeBecomesPreciseGuestFault) {
  // The page at 0x8000 is inaccessible on the host: the load faults in generated code.
  ASSERT_EQ(0, ::mprotect(mem_.base() + 0x8000, 4096, PROT_NONE));
  program(0x1000, {
                      addi(kA0, 0, 5),                               // retired
                      I(0x37, 0, 0, 0, 0) | (8 << 12) | (kT0 << 7),  // lui t0, 8 -> 0x8000
                      I(0x03, 3, kA1, kT0, 16),                      // ld a1, 16(t0): faults
                      addi(kA0, 0, 6),                               // not reached
                      kEcall,
                  });
  make_engine();
  cpu_.pc = 0x1000;
  cpu_.instret = 0;
  cpu_.x[kA1] = 0x1234;
  ExitInfo e = run_until_exit();
  EXPECT_EQ(e.kind, ExitKind::kLoadFault);
  EXPECT_EQ(e.info, 0x8010u);
  EXPECT_EQ(cpu_.pc, 0x1008u);
  EXPECT_EQ(cpu_.x[kA0], 5u);
  EXPECT_EQ(cpu_.x[kT0], 0x8000u);
  EXPECT_EQ(cpu_.x[kA1], 0x1234u);
  EXPECT_EQ(cpu_.instret, 2u);
  // Stores fault the same way.
  program(0x1008, {S(3, kT0, kA0, 8)});
  engine_->invalidate_code(0x1000, 0x100);
  cpu_.pc = 0x1000;
  e = run_until_exit();
  EXPECT_EQ(e.kind, ExitKind::kStoreFault);
  EXPECT_EQ(e.info, 0x8008u);
  ::mprotect(mem_.base() + 0x8000, 4096, PROT_READ | PROT_WRITE);
}

TEST_F(EngineTest, FetchFaultAndIllegalInstruction) {
  program(0x1000, {0xffffffff});
  make_engine();
  cpu_.pc = 0x1000;
  ExitInfo e = run_until_exit();
  EXPECT_EQ(e.kind, ExitKind::kIllegalInstruction);
  EXPECT_EQ(cpu_.pc, 0x1000u);
  cpu_.pc = 0x40000;  // beyond the memory
  e = run_until_exit();
  EXPECT_EQ(e.kind, ExitKind::kFetchFault);
  EXPECT_EQ(e.info, 0x40000u);
}

TEST_F(EngineTest, ExitRequestStopsAnEndlessLoop) {
  program(0x1000, {addi(kA0, kA0, 1), J(0, -4)});
  make_engine();
  cpu_.pc = 0x1000;
  std::atomic<bool> stop{false};
  std::thread t([&] {
    while (!stop) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      engine_->request_exit();
    }
  });
  ExitInfo e = engine_->run(cpu_);
  stop = true;
  t.join();
  EXPECT_EQ(e.kind, ExitKind::kInterrupted);
  EXPECT_GT(cpu_.x[kA0], 0u);
  EXPECT_TRUE(cpu_.pc == 0x1000 || cpu_.pc == 0x1004);
}

}  // namespace
}  // namespace tandem::tcg
