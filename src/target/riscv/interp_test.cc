// Interpreter tests on hand-assembled sequences; expected values are worked out from the spec.
#include "target/riscv/interp.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "target/riscv/fp.h"

namespace tandem::riscv {
namespace {

// ---- Encoders (straight from the base ISA formats) ----
uint32_t R(uint32_t f7, uint32_t rs2, uint32_t rs1, uint32_t f3, uint32_t rd, uint32_t opc) {
  return f7 << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | rd << 7 | opc;
}
uint32_t I(int32_t imm, uint32_t rs1, uint32_t f3, uint32_t rd, uint32_t opc) {
  return (static_cast<uint32_t>(imm) & 0xfff) << 20 | rs1 << 15 | f3 << 12 | rd << 7 | opc;
}
uint32_t S(int32_t imm, uint32_t rs2, uint32_t rs1, uint32_t f3, uint32_t opc) {
  const uint32_t u = static_cast<uint32_t>(imm);
  return (u >> 5 & 0x7f) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | (u & 0x1f) << 7 | opc;
}
uint32_t B(int32_t imm, uint32_t rs2, uint32_t rs1, uint32_t f3) {
  const uint32_t u = static_cast<uint32_t>(imm);
  return (u >> 12 & 1) << 31 | (u >> 5 & 0x3f) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 |
         (u >> 1 & 0xf) << 8 | (u >> 11 & 1) << 7 | 0x63;
}
uint32_t U(uint32_t imm20, uint32_t rd, uint32_t opc) {
  return imm20 << 12 | rd << 7 | opc;
}
uint32_t J(int32_t imm, uint32_t rd) {
  const uint32_t u = static_cast<uint32_t>(imm);
  return (u >> 20 & 1) << 31 | (u >> 1 & 0x3ff) << 21 | (u >> 11 & 1) << 20 |
         (u >> 12 & 0xff) << 12 | rd << 7 | 0x6f;
}
uint32_t addi(uint32_t rd, uint32_t rs1, int32_t imm) {
  return I(imm, rs1, 0, rd, 0x13);
}
uint32_t op(uint32_t f7, uint32_t f3, uint32_t rd, uint32_t rs1, uint32_t rs2) {
  return R(f7, rs2, rs1, f3, rd, 0x33);
}
uint32_t op32(uint32_t f7, uint32_t f3, uint32_t rd, uint32_t rs1, uint32_t rs2) {
  return R(f7, rs2, rs1, f3, rd, 0x3b);
}
uint32_t csr(uint32_t f3, uint32_t rd, uint32_t csr_num, uint32_t rs1) {
  return csr_num << 20 | rs1 << 15 | f3 << 12 | rd << 7 | 0x73;
}
uint32_t fp(uint32_t f7, uint32_t rd, uint32_t rs1, uint32_t rs2, uint32_t rm) {
  return R(f7, rs2, rs1, rm, rd, 0x53);
}
uint32_t amo(uint32_t f5, bool d, uint32_t rd, uint32_t rs1, uint32_t rs2) {
  return R(f5 << 2, rs2, rs1, d ? 3 : 2, rd, 0x2f);
}
constexpr uint32_t kEcall = 0x00000073;

constexpr uint64_t kCode = 0x1000, kData = 0x8000, kEnd = 0x10000;

// 64 KiB of guest memory: code pages read+exec, data pages read+write, page 0 unmapped.
class FlatMemory : public GuestMemory {
 public:
  FlatMemory() : bytes_(kEnd) {}
  uint8_t* translate(uint64_t addr, uint64_t len, Access access) override {
    if (len == 0 || addr >= kEnd || len > kEnd - addr) return nullptr;
    for (uint64_t a = addr; a < addr + len; ++a) {
      const bool code = a >= kCode && a < kData;
      const bool data = a >= kData;
      if (access == Access::kExec && !code) return nullptr;
      if (access == Access::kWrite && !data) return nullptr;
      if (access == Access::kRead && !code && !data) return nullptr;
    }
    return bytes_.data() + addr;
  }
  std::vector<uint8_t> bytes_;
};

class InterpTest : public ::testing::Test {
 protected:
  // Loads 32-bit instructions at kCode and runs to the first exit.
  ExitInfo run(const std::vector<uint32_t>& insns, uint64_t max = 1000) {
    std::memcpy(mem_.bytes_.data() + kCode, insns.data(), insns.size() * 4);
    cpu_.pc = kCode;
    return interpret(cpu_, mem_, max);
  }
  ExitInfo run16(const std::vector<uint16_t>& parcels, uint64_t max = 1000) {
    std::memcpy(mem_.bytes_.data() + kCode, parcels.data(), parcels.size() * 2);
    cpu_.pc = kCode;
    return interpret(cpu_, mem_, max);
  }
  uint64_t& x(int r) { return cpu_.x[r]; }
  template <typename T>
  void poke(uint64_t addr, T v) {
    std::memcpy(mem_.bytes_.data() + addr, &v, sizeof v);
  }
  template <typename T>
  T peek(uint64_t addr) {
    T v;
    std::memcpy(&v, mem_.bytes_.data() + addr, sizeof v);
    return v;
  }

  FlatMemory mem_;
  CpuState cpu_;
};

TEST_F(InterpTest, EcallStopsAtTheEcall) {
  const ExitInfo e = run({addi(10, 0, 42), addi(17, 0, 93), kEcall});
  EXPECT_EQ(e.kind, ExitKind::kEcall);
  EXPECT_EQ(cpu_.pc, kCode + 8);
  EXPECT_EQ(x(10), 42u);
  EXPECT_EQ(x(17), 93u);
  EXPECT_EQ(cpu_.instret, 2u);
}

TEST_F(InterpTest, X0StaysZero) {
  run({addi(0, 0, 5), op(0, 0, 0, 1, 1), U(0x12345, 0, 0x37), kEcall});
  EXPECT_EQ(x(0), 0u);
}

TEST_F(InterpTest, BudgetAndEbreakAndIllegal) {
  ExitInfo e = run({addi(1, 1, 1), addi(1, 1, 1), addi(1, 1, 1), kEcall}, 2);
  EXPECT_EQ(e.kind, ExitKind::kInterrupted);
  EXPECT_EQ(cpu_.pc, kCode + 8);
  e = run({0x00100073});
  EXPECT_EQ(e.kind, ExitKind::kEbreak);
  EXPECT_EQ(cpu_.pc, kCode);
  e = run({0xffffffff});
  EXPECT_EQ(e.kind, ExitKind::kIllegalInstruction);
  EXPECT_EQ(e.info, 0xffffffffu);
  EXPECT_EQ(cpu_.pc, kCode);
  e = run16({0x0000});  // the all-zero parcel is illegal
  EXPECT_EQ(e.kind, ExitKind::kIllegalInstruction);
  EXPECT_EQ(e.info, 0u);
}

TEST_F(InterpTest, FenceIIsReported) {
  const ExitInfo e = run({addi(5, 0, 1), 0x0000100f, addi(5, 5, 1), kEcall});
  EXPECT_EQ(e.kind, ExitKind::kFenceI);
  EXPECT_EQ(cpu_.pc, kCode + 8);  // after the fence.i
  EXPECT_EQ(x(5), 1u);
}

TEST_F(InterpTest, WordOpsSignExtend) {
  x(1) = 0x7fffffff;
  x(2) = 1;
  x(3) = 0xffffffff80000000;          // INT32_MIN
  x(4) = 0x00000000fffffff0;          // low word negative
  run({op32(0, 0, 10, 1, 2),          // addw 0x7fffffff + 1
       op32(0x20, 0, 11, 3, 2),       // subw INT32_MIN - 1 = 0x7fffffff
       I(4, 4, 5, 12, 0x1b),          // srliw x4 >> 4: 0x0fffffff
       I(0x400 | 4, 4, 5, 13, 0x1b),  // sraiw: 0xffffffff
       I(31, 2, 1, 14, 0x1b),         // slliw 1 << 31: sign-extended
       I(-1, 1, 0, 15, 0x1b),         // addiw 0x7fffffff - 1
       kEcall});
  EXPECT_EQ(x(10), 0xffffffff80000000u);
  EXPECT_EQ(x(11), 0x7fffffffu);
  EXPECT_EQ(x(12), 0x0fffffffu);
  EXPECT_EQ(x(13), 0xffffffffffffffffu);
  EXPECT_EQ(x(14), 0xffffffff80000000u);
  EXPECT_EQ(x(15), 0x7ffffffeu);
}

TEST_F(InterpTest, ShiftsUseLowBitsOfRs2) {
  x(1) = 0x8000000000000001;
  x(2) = 65;  // shifts by 1
  run({op(0, 1, 10, 1, 2), op(0, 5, 11, 1, 2), op(0x20, 5, 12, 1, 2), op32(0, 1, 13, 1, 2),
       kEcall});
  EXPECT_EQ(x(10), 2u);
  EXPECT_EQ(x(11), 0x4000000000000000u);
  EXPECT_EQ(x(12), 0xc000000000000000u);
  EXPECT_EQ(x(13), 2u);  // sllw: 65 & 31 = 1
}

TEST_F(InterpTest, DivisionEdgeCases) {
  x(1) = 0x8000000000000000;  // INT64_MIN
  x(2) = ~0ull;               // -1
  x(3) = 0;
  x(4) = 7;
  x(5) = 0xffffffff80000000;  // INT32_MIN (as a word)
  run({op(1, 4, 10, 4, 3),    // div 7 / 0 = -1
       op(1, 5, 11, 4, 3),    // divu 7 / 0 = 2^64-1
       op(1, 6, 12, 4, 3),    // rem 7 % 0 = 7
       op(1, 7, 13, 4, 3),    // remu 7 % 0 = 7
       op(1, 4, 14, 1, 2),    // div INT64_MIN / -1 = INT64_MIN
       op(1, 6, 15, 1, 2),    // rem INT64_MIN % -1 = 0
       op32(1, 4, 16, 5, 2),  // divw INT32_MIN / -1 = INT32_MIN sign-extended
       op32(1, 6, 17, 5, 2),  // remw = 0
       op32(1, 5, 18, 4, 3),  // divuw 7 / 0 = 0xffffffff sign-extended
       op32(1, 7, 19, 5, 3),  // remuw INT32_MIN % 0 = dividend word, sign-extended
       op32(1, 4, 20, 4, 3),  // divw 7 / 0 = -1
       kEcall});
  EXPECT_EQ(x(10), ~0ull);
  EXPECT_EQ(x(11), ~0ull);
  EXPECT_EQ(x(12), 7u);
  EXPECT_EQ(x(13), 7u);
  EXPECT_EQ(x(14), 0x8000000000000000u);
  EXPECT_EQ(x(15), 0u);
  EXPECT_EQ(x(16), 0xffffffff80000000u);
  EXPECT_EQ(x(17), 0u);
  EXPECT_EQ(x(18), ~0ull);
  EXPECT_EQ(x(19), 0xffffffff80000000u);
  EXPECT_EQ(x(20), ~0ull);
}

TEST_F(InterpTest, MultiplyHigh) {
  x(1) = ~0ull;  // -1 / 2^64-1
  x(2) = 2;
  x(3) = 0x8000000000000000;
  run({op(1, 1, 10, 1, 2),    // mulh -1 * 2 -> high = -1
       op(1, 2, 11, 1, 2),    // mulhsu -1 * 2 -> -1
       op(1, 3, 12, 1, 2),    // mulhu (2^64-1) * 2 -> 1
       op(1, 2, 13, 2, 1),    // mulhsu 2 * (2^64-1 unsigned) -> 1
       op(1, 1, 14, 3, 3),    // mulh INT64_MIN^2 = 2^126 -> 2^62
       op32(1, 0, 15, 3, 2),  // mulw: low word 0 -> 0
       kEcall});
  EXPECT_EQ(x(10), ~0ull);
  EXPECT_EQ(x(11), ~0ull);
  EXPECT_EQ(x(12), 1u);
  EXPECT_EQ(x(13), 1u);
  EXPECT_EQ(x(14), 0x4000000000000000u);
  EXPECT_EQ(x(15), 0u);
}

TEST_F(InterpTest, LoadsStoresAndFaults) {
  x(1) = kData;
  x(2) = 0x80;
  x(3) = 0x1234567890abcdef;
  ExitInfo e = run({S(0, 2, 1, 0, 0x23),    // sb 0x80
                    I(0, 1, 0, 10, 0x03),   // lb -> -128
                    I(0, 1, 4, 11, 0x03),   // lbu -> 128
                    S(8, 3, 1, 3, 0x23),    // sd
                    I(12, 1, 2, 12, 0x03),  // lw high word 0x12345678
                    I(8, 1, 6, 13, 0x03),   // lwu low word 0x90abcdef
                    I(8, 1, 2, 14, 0x03),   // lw low word sign-extended
                    I(9, 1, 1, 15, 0x03),   // lh misaligned is fine: 0xabcd, sign-extended
                    kEcall});
  EXPECT_EQ(e.kind, ExitKind::kEcall);
  EXPECT_EQ(x(10), static_cast<uint64_t>(-128));
  EXPECT_EQ(x(11), 128u);
  EXPECT_EQ(x(12), 0x12345678u);
  EXPECT_EQ(x(13), 0x90abcdefu);
  EXPECT_EQ(x(14), 0xffffffff90abcdefu);
  EXPECT_EQ(x(15), 0xffffffffffffabcdu);
  // Load from unmapped page 0, store to read-only code, fetch from data.
  x(1) = 0x10;
  e = run({I(0, 1, 3, 10, 0x03)});
  EXPECT_EQ(e.kind, ExitKind::kLoadFault);
  EXPECT_EQ(e.info, 0x10u);
  EXPECT_EQ(cpu_.pc, kCode);
  x(1) = kCode;
  e = run({S(0, 2, 1, 3, 0x23)});
  EXPECT_EQ(e.kind, ExitKind::kStoreFault);
  EXPECT_EQ(e.info, kCode);
  x(1) = kData;
  e = run({I(0, 1, 0, 0, 0x67)});  // jalr x0, 0(x1)
  EXPECT_EQ(e.kind, ExitKind::kFetchFault);
  EXPECT_EQ(e.info, kData);
  // A load straddling into the unmapped end of memory faults as a whole.
  x(1) = kEnd - 4;
  e = run({I(0, 1, 3, 10, 0x03)});
  EXPECT_EQ(e.kind, ExitKind::kLoadFault);
}

TEST_F(InterpTest, BranchesAndJumps) {
  x(1) = static_cast<uint64_t>(-1);
  x(2) = 1;
  run({B(8, 2, 1, 4),   // blt -1 < 1: taken -> skip next
       addi(10, 0, 1),  // skipped
       B(8, 2, 1, 6),   // bltu 2^64-1 < 1: not taken
       addi(11, 0, 1),  // executed
       J(8, 12),        // jal x12, +8
       addi(13, 0, 1),  // skipped
       U(0, 14, 0x17),  // auipc x14, 0 -> pc
       kEcall});
  EXPECT_EQ(x(10), 0u);
  EXPECT_EQ(x(11), 1u);
  EXPECT_EQ(x(12), kCode + 20);
  EXPECT_EQ(x(13), 0u);
  EXPECT_EQ(x(14), kCode + 24);
  // jalr with rd == rs1: the target uses the old value; bit 0 of the target is cleared.
  x(5) = kCode + 9;
  run({I(0, 5, 0, 5, 0x67), addi(6, 0, 1), addi(7, 0, 1), kEcall});
  EXPECT_EQ(x(5), kCode + 4);
  EXPECT_EQ(x(6), 0u);
  EXPECT_EQ(x(7), 1u);
}

// InterpOptions::one_block (the translator's cold tier): stops after the first jump or branch,
// taken or not, with pc where execution goes on and that instruction retired.
TEST_F(InterpTest, OneBlockStopsAfterTheFirstJumpOrBranch) {
  const InterpOptions one_block{.one_block = true};
  const std::vector<uint32_t> code = {addi(10, 0, 1),  // 0
                                      B(8, 0, 10, 0),  // 4: beq a0, zero, +8: not taken
                                      addi(11, 0, 1),  // 8
                                      B(8, 0, 10, 1),  // c: bne a0, zero, +8: taken -> 0x14
                                      addi(12, 0, 1),  // 10: skipped
                                      J(-0x14, 0),     // 14: j 0
                                      kEcall};
  std::memcpy(mem_.bytes_.data() + kCode, code.data(), code.size() * 4);
  cpu_.pc = kCode;
  ExitInfo e = interpret(cpu_, mem_, 1000, InsnHook{}, one_block);
  EXPECT_EQ(e.kind, ExitKind::kInterrupted);
  EXPECT_EQ(cpu_.pc, kCode + 8);  // after the branch not taken
  EXPECT_EQ(cpu_.instret, 2u);
  e = interpret(cpu_, mem_, 1000, InsnHook{}, one_block);
  EXPECT_EQ(e.kind, ExitKind::kInterrupted);
  EXPECT_EQ(cpu_.pc, kCode + 0x14);  // the taken branch's target
  EXPECT_EQ(x(11), 1u);
  e = interpret(cpu_, mem_, 1000, InsnHook{}, one_block);
  EXPECT_EQ(e.kind, ExitKind::kInterrupted);
  EXPECT_EQ(cpu_.pc, kCode);  // after the jal
  EXPECT_EQ(x(12), 0u);
  EXPECT_EQ(cpu_.instret, 5u);
  // The budget still bounds it, and other exits come as before.
  cpu_.pc = kCode + 8;
  e = interpret(cpu_, mem_, 1, InsnHook{}, one_block);
  EXPECT_EQ(e.kind, ExitKind::kInterrupted);
  EXPECT_EQ(cpu_.pc, kCode + 12);
  cpu_.pc = kCode + 0x18;
  EXPECT_EQ(interpret(cpu_, mem_, 1000, InsnHook{}, one_block).kind, ExitKind::kEcall);
}

TEST_F(InterpTest, CompressedInstructions) {
  // c.li a0,-1; c.addi a0,3; c.mv a1,a0; c.slli a1,4; c.j +4; c.li a2,1 (skipped); ecall
  const ExitInfo e = run16({0x557d, 0x050d, 0x85aa, 0x0592, 0xa011, 0x4605, 0x0073, 0x0000});
  EXPECT_EQ(e.kind, ExitKind::kEcall);
  EXPECT_EQ(x(10), 2u);
  EXPECT_EQ(x(11), 32u);
  EXPECT_EQ(x(12), 0u);
  EXPECT_EQ(cpu_.pc, kCode + 12);
  // c.jalr t0 links pc + 2.
  x(5) = kCode + 4;
  run16({0x9282, 0x0001, 0x0073, 0x0000});
  EXPECT_EQ(x(1), kCode + 2);
}

TEST_F(InterpTest, Atomics) {
  x(1) = kData;
  x(2) = 5;
  poke<uint32_t>(kData, 0xfffffffe);             // -2 as a word
  ExitInfo e = run({amo(0x00, false, 10, 1, 2),  // amoadd.w: old -2 sign-extended, mem 3
                    amo(0x18, false, 11, 1, 2),  // amominu.w(3, 5) -> old 3, mem 3
                    amo(0x1c, false, 12, 1, 0),  // amomaxu.w(3, 0) -> 3
                    kEcall});
  EXPECT_EQ(e.kind, ExitKind::kEcall);
  EXPECT_EQ(x(10), static_cast<uint64_t>(-2));
  EXPECT_EQ(x(11), 3u);
  EXPECT_EQ(x(12), 3u);
  EXPECT_EQ(peek<uint32_t>(kData), 3u);
  // amomin.w is signed on the word: min(-1, 3) = -1.
  x(3) = ~0ull;
  run({amo(0x10, false, 13, 1, 3), kEcall});
  EXPECT_EQ(peek<uint32_t>(kData), 0xffffffffu);
  // LR/SC: success, then failure without a reservation.
  poke<uint64_t>(kData + 8, 100);
  x(1) = kData + 8;
  x(2) = 7;
  run({R(0x02 << 2, 0, 1, 3, 10, 0x2f),  // lr.d a0,(x1)
       amo(0x03, true, 11, 1, 2),        // sc.d a1,x2,(x1) -> 0
       amo(0x03, true, 12, 1, 2),        // sc.d again -> 1
       kEcall});
  EXPECT_EQ(x(10), 100u);
  EXPECT_EQ(x(11), 0u);
  EXPECT_EQ(x(12), 1u);
  EXPECT_EQ(peek<uint64_t>(kData + 8), 7u);
  // Misaligned AMO.
  x(1) = kData + 4;
  e = run({amo(0x01, true, 10, 1, 2)});
  EXPECT_EQ(e.kind, ExitKind::kMisaligned);
  EXPECT_EQ(e.info, kData + 4);
  // AMO to read-only memory is a store fault.
  x(1) = kCode;
  e = run({amo(0x00, false, 10, 1, 2)});
  EXPECT_EQ(e.kind, ExitKind::kStoreFault);
}

TEST_F(InterpTest, Csrs) {
  x(1) = 0xff;
  ExitInfo e = run({csr(1, 10, 0x003, 1),  // csrrw a0, fcsr, 0xff -> old 0
                    csr(2, 11, 0x002, 0),  // frrm -> 7
                    csr(2, 12, 0x001, 0),  // frflags -> 0x1f
                    csr(7, 13, 0x001, 3),  // csrrci a3, fflags, 3 -> old 0x1f
                    csr(2, 14, 0x003, 0),  // frcsr -> 0xfc
                    csr(2, 15, 0xc02, 0),  // rdinstret
                    kEcall});
  EXPECT_EQ(e.kind, ExitKind::kEcall);
  EXPECT_EQ(x(10), 0u);
  EXPECT_EQ(x(11), 7u);
  EXPECT_EQ(x(12), 0x1fu);
  EXPECT_EQ(x(13), 0x1fu);
  EXPECT_EQ(x(14), 0xfcu);
  EXPECT_EQ(x(15), cpu_.instret - 1);
  // Writing a read-only counter, or an unknown CSR, is illegal.
  e = run({csr(1, 0, 0xc00, 1)});
  EXPECT_EQ(e.kind, ExitKind::kIllegalInstruction);
  e = run({csr(2, 10, 0x300, 0)});  // mstatus from user mode
  EXPECT_EQ(e.kind, ExitKind::kIllegalInstruction);
  // rdtime advances.
  run({csr(2, 10, 0xc01, 0), kEcall});
  EXPECT_GT(x(10), 0u);
}

TEST_F(InterpTest, FloatingPoint) {
  cpu_.f[1] = fp::box32(0x3f800000);         // 1.0f
  cpu_.f[2] = 0x000000003f800000;            // improperly boxed: reads as canonical NaN
  cpu_.f[3] = 0x4004000000000000;            // 2.5
  cpu_.f[4] = fp::box32(0x00000000);         // +0.0f
  x(1) = 0x3ff8000000000000;                 // 1.5 bits
  ExitInfo e = run({fp(0x00, 10, 1, 2, 0),   // fadd.s f10 = 1 + NaN -> canonical NaN
                    fp(0x70, 10, 2, 0, 0),   // fmv.x.w a0, f2: raw low bits, no unboxing
                    fp(0x61, 11, 3, 0, 4),   // fcvt.w.d a1, 2.5, rmm -> 3
                    fp(0x61, 12, 3, 0, 1),   // fcvt.w.d a2, 2.5, rtz -> 2
                    fp(0x0c, 11, 1, 4, 7),   // fdiv.s f11 = 1/0 (dyn = rne): DZ
                    fp(0x79, 12, 1, 0, 0),   // fmv.d.x f12, x1
                    fp(0x71, 13, 12, 0, 1),  // fclass.d a3, 1.5 -> positive normal
                    fp(0x14, 14, 2, 1, 0),   // fmin.s f14 = min(NaN, 1) -> 1
                    kEcall});
  EXPECT_EQ(e.kind, ExitKind::kEcall);
  EXPECT_EQ(cpu_.f[10], fp::box32(fp::kCanonicalNaN32));
  EXPECT_EQ(x(10), 0x3f800000u);
  EXPECT_EQ(x(11), 3u);
  EXPECT_EQ(x(12), 2u);
  EXPECT_EQ(cpu_.f[11], fp::box32(0x7f800000));
  EXPECT_EQ(x(13), 1u << 6);
  EXPECT_EQ(cpu_.f[14], fp::box32(0x3f800000));
  EXPECT_EQ(cpu_.fflags, kDZ | kNX);  // DZ from fdiv, NX from the inexact conversions
}

TEST_F(InterpTest, InvalidRoundingModes) {
  cpu_.frm = 5;                              // reserved: dynamic-rm instructions are illegal
  ExitInfo e = run({fp(0x01, 1, 2, 3, 7)});  // fadd.d dyn
  EXPECT_EQ(e.kind, ExitKind::kIllegalInstruction);
  cpu_.frm = 0;
  e = run({fp(0x01, 1, 2, 3, 7), kEcall});
  EXPECT_EQ(e.kind, ExitKind::kEcall);
  // A static reserved rm (6) is illegal whatever frm says.
  e = run({fp(0x01, 1, 2, 3, 6)});
  EXPECT_EQ(e.kind, ExitKind::kIllegalInstruction);
  // frm = 4 (RMM) is valid as a dynamic mode: 1 + 2^-24 rounds away.
  cpu_.frm = kRMM;
  cpu_.f[2] = fp::box32(0x3f800000);
  cpu_.f[3] = fp::box32(0x33800000);
  e = run({fp(0x00, 1, 2, 3, 7), kEcall});
  EXPECT_EQ(cpu_.f[1], fp::box32(0x3f800001));
}

TEST_F(InterpTest, FusedMultiplyAddForms) {
  const uint64_t two = 0x4000000000000000, three = 0x4008000000000000, one = 0x3ff0000000000000;
  cpu_.f[1] = two;
  cpu_.f[2] = three;
  cpu_.f[3] = one;
  // R4: rs3 << 27 | fmt << 25 | rs2 << 20 | rs1 << 15 | rm << 12 | rd << 7 | opcode
  auto r4 = [](uint32_t opc, uint32_t rd) {
    return 3u << 27 | 1u << 25 | 2u << 20 | 1u << 15 | 7u << 12 | rd << 7 | opc;
  };
  run({r4(0x43, 10), r4(0x47, 11), r4(0x4b, 12), r4(0x4f, 13), kEcall});
  EXPECT_EQ(cpu_.f[10], 0x401c000000000000u);  // 2*3+1 = 7
  EXPECT_EQ(cpu_.f[11], 0x4014000000000000u);  // 2*3-1 = 5
  EXPECT_EQ(cpu_.f[12], 0xc014000000000000u);  // -(2*3)+1 = -5
  EXPECT_EQ(cpu_.f[13], 0xc01c000000000000u);  // -(2*3)-1 = -7
}

TEST_F(InterpTest, BitManipulation) {
  x(1) = 0;
  x(2) = 0x0000000100000080;
  x(3) = 0x0102030405060708;
  x(4) = 0xffffffff00000003;
  run({R(0x30, 0x00, 1, 1, 10, 0x13),  // clz 0 -> 64
       R(0x30, 0x01, 1, 1, 11, 0x1b),  // ctzw 0 -> 32
       R(0x30, 0x02, 2, 1, 12, 0x13),  // cpop -> 2
       R(0x35, 0x18, 3, 5, 13, 0x13),  // rev8
       R(0x14, 0x07, 2, 5, 14, 0x13),  // orc.b
       R(0x30, 0x04, 2, 1, 15, 0x13),  // sext.b 0x80 -> -128
       op32(0x10, 4, 16, 4, 2),        // sh2add.uw: x2 + (zext32(x4) << 2)
       I(0x600 | 4, 3, 5, 17, 0x13),   // rori x3, 4
       op(0x05, 6, 18, 4, 2),          // max (signed): x2
       op32(0x04, 4, 19, 4, 0),        // zext.h
       kEcall});
  EXPECT_EQ(x(10), 64u);
  EXPECT_EQ(x(11), 32u);
  EXPECT_EQ(x(12), 2u);
  EXPECT_EQ(x(13), 0x0807060504030201u);
  EXPECT_EQ(x(14), 0x000000ff000000ffu);
  EXPECT_EQ(x(15), static_cast<uint64_t>(-128));
  EXPECT_EQ(x(16), 0x0000000100000080u + 12);
  EXPECT_EQ(x(17), 0x8010203040506070u);
  EXPECT_EQ(x(18), 0x0000000100000080u);
  EXPECT_EQ(x(19), 3u);
}

}  // namespace
}  // namespace tandem::riscv
