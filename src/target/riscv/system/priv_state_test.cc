#include "target/riscv/system/priv_state.h"

#include <gtest/gtest.h>

namespace tandem::riscv {
namespace {

uint64_t read(const PrivState& ps, uint16_t csr, uint64_t hw = 0) {
  auto v = ps.read_csr(csr, hw, 0, PrivEnv{});
  EXPECT_TRUE(v.has_value()) << std::hex << csr;
  return v.value_or(0);
}

bool write(PrivState& ps, uint16_t csr, uint64_t value) {
  uint64_t instret = 0;
  bool flush = false;
  return ps.write_csr(csr, value, instret, flush);
}

TEST(PrivState, MstatusMasksAndSstatusView) {
  PrivState ps;
  ASSERT_TRUE(write(ps, 0x300, ~0ull));
  const uint64_t m = read(ps, 0x300);
  EXPECT_EQ((m >> 32) & 3, 2u);             // UXL = 64
  EXPECT_EQ((m >> 34) & 3, 2u);             // SXL = 64
  EXPECT_EQ(m & (1ull << 63), 1ull << 63);  // SD follows FS dirty
  EXPECT_EQ((m >> 11) & 3, 3u);
  EXPECT_EQ(m & (3ull << 9), 0u);  // no vector state
  const uint64_t s = read(ps, 0x100);
  EXPECT_EQ(s & (3ull << 11), 0u);  // MPP is invisible to S
  EXPECT_EQ(s & (1ull << 3), 0u);   // MIE too
  EXPECT_NE(s & (1ull << 18), 0u);  // SUM
  // MPP = 2 is reserved: it reads back as U.
  ASSERT_TRUE(write(ps, 0x300, 2ull << 11));
  EXPECT_EQ((read(ps, 0x300) >> 11) & 3, 0u);
  // sstatus writes do not reach M-only bits.
  ASSERT_TRUE(write(ps, 0x300, 0));
  ASSERT_TRUE(write(ps, 0x100, ~0ull));
  EXPECT_EQ(read(ps, 0x300) & ((1ull << 3) | (3ull << 11) | (1ull << 17)), 0u);
}

TEST(PrivState, InterruptRegisterMasks) {
  PrivState ps;
  ASSERT_TRUE(write(ps, 0x303, ~0ull));  // mideleg
  EXPECT_EQ(read(ps, 0x303), kSsi | kSti | kSei);
  ASSERT_TRUE(write(ps, 0x302, ~0ull));  // medeleg: not ecall from M
  EXPECT_EQ(read(ps, 0x302), 0xb3ffu);
  ASSERT_TRUE(write(ps, 0x304, ~0ull));
  EXPECT_EQ(read(ps, 0x304), kAllInterrupts);
  EXPECT_EQ(read(ps, 0x104), kSsi | kSti | kSei);  // sie = mie & mideleg
  ASSERT_TRUE(write(ps, 0x344, ~0ull));            // mip: only SSIP/STIP/SEIP
  EXPECT_EQ(read(ps, 0x344), kSsi | kSti | kSei);
  EXPECT_EQ(read(ps, 0x344, kMti | kMei), kSsi | kSti | kSei | kMti | kMei);
  ASSERT_TRUE(write(ps, 0x144, 0));  // sip: only SSIP is writable from S
  EXPECT_EQ(read(ps, 0x144), kSti | kSei);
}

TEST(PrivState, PrivilegeAndUnknownCsrs) {
  PrivState ps;
  EXPECT_FALSE(ps.read_csr(0x7c0, 0, 0, PrivEnv{}).has_value());  // custom: unknown
  EXPECT_FALSE(ps.read_csr(0x3a1, 0, 0, PrivEnv{}).has_value());  // pmpcfg1: RV32 only
  EXPECT_FALSE(write(ps, 0xf14, 1));                              // mhartid is read-only
  ps.priv = Priv::kS;
  EXPECT_FALSE(ps.read_csr(0x300, 0, 0, PrivEnv{}).has_value());
  EXPECT_TRUE(ps.read_csr(0x100, 0, 0, PrivEnv{}).has_value());
  EXPECT_FALSE(ps.read_csr(0xc01, 0, 0, PrivEnv{}).has_value());  // mcounteren.TM clear
  ps.mcounteren = 2;
  EXPECT_TRUE(ps.read_csr(0xc01, 0, 0, PrivEnv{}).has_value());
  ps.mstatus |= mstatus_bits::kTvm;
  EXPECT_FALSE(ps.read_csr(0x180, 0, 0, PrivEnv{}).has_value());
}

TEST(PrivState, SatpIsWarl) {
  PrivState ps;
  ASSERT_TRUE(write(ps, 0x180, (8ull << 60) | 0x1234));
  EXPECT_EQ(read(ps, 0x180), (8ull << 60) | 0x1234);
  ASSERT_TRUE(write(ps, 0x180, (10ull << 60) | 0x5));  // Sv57: not supported, no change
  EXPECT_EQ(read(ps, 0x180), (8ull << 60) | 0x1234);
  ASSERT_TRUE(write(ps, 0x180, (9ull << 60) | 0x5));
  EXPECT_EQ(read(ps, 0x180), (9ull << 60) | 0x5);
}

TEST(PrivState, TrapDelegationAndReturn) {
  PrivState ps;
  ps.mtvec = 0x1000;
  ps.stvec = 0x2001;  // vectored
  ps.medeleg = 1ull << kEcallU;
  ps.mideleg = kSti;
  ps.priv = Priv::kU;
  ps.mstatus |= mstatus_bits::kSie;
  EXPECT_EQ(ps.take_trap(kEcallU, 0, 0x400), 0x2000u);  // exceptions ignore vectoring
  EXPECT_EQ(ps.priv, Priv::kS);
  EXPECT_EQ(ps.sepc, 0x400u);
  EXPECT_EQ(ps.mstatus & mstatus_bits::kSpp, 0u);
  EXPECT_NE(ps.mstatus & mstatus_bits::kSpie, 0u);
  EXPECT_EQ(ps.mstatus & mstatus_bits::kSie, 0u);
  EXPECT_EQ(ps.sret(), 0x400u);
  EXPECT_EQ(ps.priv, Priv::kU);
  EXPECT_NE(ps.mstatus & mstatus_bits::kSie, 0u);
  // Delegated interrupt, vectored: base + 4 * cause.
  EXPECT_EQ(ps.take_trap(kInterruptFlag | 5, 0, 0x500), 0x2014u);
  // An exception in S that is not delegated goes to M with MPP = S.
  EXPECT_EQ(ps.take_trap(kIllegalInsn, 0x13, 0x600), 0x1000u);
  EXPECT_EQ(ps.priv, Priv::kM);
  EXPECT_EQ(ps.mtval, 0x13u);
  EXPECT_EQ((ps.mstatus & mstatus_bits::kMpp) >> 11, 1u);
  ps.mstatus |= mstatus_bits::kMprv;
  EXPECT_EQ(ps.mret(), 0x600u);
  EXPECT_EQ(ps.priv, Priv::kS);
  EXPECT_EQ(ps.mstatus & mstatus_bits::kMprv, 0u);  // cleared when leaving M for S/U
}

TEST(PrivState, InterruptPriorityAndEnables) {
  PrivState ps;
  ps.mie = kAllInterrupts;
  ps.mideleg = kSInterrupts;
  // M mode with MIE clear: nothing, even M interrupts.
  EXPECT_FALSE(ps.pending_interrupt(kMti).has_value());
  ps.mstatus |= mstatus_bits::kMie;
  EXPECT_EQ(ps.pending_interrupt(kMti | kMsi | kMei).value(), 11u);
  EXPECT_EQ(ps.pending_interrupt(kMti | kMsi).value(), 3u);
  // S interrupts are never taken in M.
  EXPECT_FALSE(ps.pending_interrupt(kSti).has_value());
  ps.priv = Priv::kS;
  EXPECT_FALSE(ps.pending_interrupt(kSti).has_value());  // SIE clear
  ps.mstatus |= mstatus_bits::kSie;
  EXPECT_EQ(ps.pending_interrupt(kSti | kSsi).value(), 1u);
  EXPECT_EQ(ps.pending_interrupt(kSti | kSsi | kSei).value(), 9u);
  // M interrupts preempt S regardless of MIE when running in S.
  ps.mstatus &= ~mstatus_bits::kMie;
  EXPECT_EQ(ps.pending_interrupt(kSei | kMti).value(), 7u);
  ps.priv = Priv::kU;
  ps.mstatus &= ~mstatus_bits::kSie;
  EXPECT_EQ(ps.pending_interrupt(kSti).value(), 5u);  // U: S interrupts always enabled
}

TEST(PrivState, PmpRules) {
  PrivState ps;
  // No entry active: M may access anything, S/U nothing.
  EXPECT_TRUE(ps.pmp_allows(0x80000000, 8, Access::kRead, Priv::kM));
  EXPECT_FALSE(ps.pmp_allows(0x80000000, 8, Access::kRead, Priv::kS));
  // Entry 0: NAPOT 0x80000000..+64K, no permissions (firmware protection).
  // Entry 1: NAPOT everything, RWX.
  ASSERT_TRUE(write(ps, 0x3b0, (0x80000000 >> 2) | ((0x10000 >> 3) - 1)));
  ASSERT_TRUE(write(ps, 0x3b1, ~0ull));
  ASSERT_TRUE(write(ps, 0x3a0, (0x18ull) | (0x1full << 8)));
  EXPECT_FALSE(ps.pmp_allows(0x80000100, 8, Access::kRead, Priv::kS));
  EXPECT_TRUE(ps.pmp_allows(0x80000100, 8, Access::kRead, Priv::kM));  // not locked
  EXPECT_TRUE(ps.pmp_allows(0x80200000, 8, Access::kWrite, Priv::kS));
  EXPECT_FALSE(ps.pmp_allows(0x8000fffc, 8, Access::kRead, Priv::kS));  // partial match
  EXPECT_TRUE(ps.pmp_page_uniform(0x8000f000, Access::kRead, Priv::kS));
  // Lock entry 0 with R only: now M is bound too, and the entry cannot change.
  ASSERT_TRUE(write(ps, 0x3a0, 0x99ull | (0x1full << 8)));
  EXPECT_FALSE(ps.pmp_allows(0x80000100, 8, Access::kWrite, Priv::kM));
  EXPECT_TRUE(ps.pmp_allows(0x80000100, 8, Access::kRead, Priv::kM));
  ASSERT_TRUE(write(ps, 0x3a0, 0x1full | (0x1full << 8)));
  EXPECT_EQ(read(ps, 0x3a0) & 0xff, 0x99u);
  ASSERT_TRUE(write(ps, 0x3b0, 0));
  EXPECT_NE(read(ps, 0x3b0), 0u);
  // TOR: entry 2 covers [pmpaddr1<<2, pmpaddr2<<2).
  PrivState t;
  ASSERT_TRUE(write(t, 0x3b0, 0x1000 >> 2));
  ASSERT_TRUE(write(t, 0x3b1, 0x2000 >> 2));
  ASSERT_TRUE(write(t, 0x3a0, (0x0bull << 8)));  // entry 1 TOR, RW
  EXPECT_TRUE(t.pmp_allows(0x1000, 4, Access::kWrite, Priv::kU));
  EXPECT_FALSE(t.pmp_allows(0x1000, 4, Access::kExec, Priv::kU));
  EXPECT_FALSE(t.pmp_allows(0x2000, 4, Access::kRead, Priv::kU));
  EXPECT_TRUE(t.pmp_page_uniform(0x1000, Access::kRead, Priv::kU));
}

}  // namespace
}  // namespace tandem::riscv
