#include "target/riscv/system/system_memory.h"

#include <gtest/gtest.h>

namespace tandem::riscv {
namespace {

constexpr uint64_t kRam = 0x80000000;
constexpr uint64_t V = 1, R = 2, W = 4, X = 8, U = 16, A = 64, D = 128;

class SystemMemoryTest : public ::testing::Test {
 protected:
  SystemMemoryTest() : mem_(ram_, mmio_, ps_) {
    ram_.add_region(kRam, 4 << 20);
    // PMP: allow everything to S/U (what OpenSBI leaves for the kernel).
    ps_.pmp.addr[0] = ~0ull >> 10;
    ps_.pmp.cfg[0] = 0x1f;
    ps_.priv = Priv::kS;
  }
  uint64_t pte(uint64_t pa, uint64_t flags) { return ((pa >> 12) << 10) | flags; }
  void set(uint64_t pa, uint64_t v) { ram_.store<uint64_t>(pa, v); }
  uint64_t get(uint64_t pa) { return ram_.load<uint64_t>(pa); }
  // Sv39 root at kRam, level-1 table at +0x1000, level-0 table at +0x2000; VA 0..2M via them.
  void sv39(uint64_t leaf_index, uint64_t leaf) {
    set(kRam + 0, pte(kRam + 0x1000, V));
    set(kRam + 0x1000, pte(kRam + 0x2000, V));
    set(kRam + 0x2000 + leaf_index * 8, leaf);
    ps_.satp = (kSatpSv39 << 60) | (kRam >> 12);
    mem_.flush_tlb();
  }
  FaultKind access(uint64_t va, Access a) {
    if (mem_.translate(va, 4, a)) return FaultKind::kNone;
    return mem_.last_fault().kind;
  }

  GuestRam ram_;
  IoBus mmio_{"mmio"};
  PrivState ps_;
  SystemMemory mem_;
};

TEST_F(SystemMemoryTest, BareModeIsPhysical) {
  ps_.priv = Priv::kM;
  uint8_t* p = mem_.translate(kRam + 0x10, 4, Access::kRead);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p, ram_.host_ptr(kRam + 0x10, 4));
  // Outside RAM with nothing on the bus: slow path, then an access fault there.
  EXPECT_EQ(mem_.translate(0x10000000, 4, Access::kRead), nullptr);
  EXPECT_EQ(mem_.last_fault().kind, FaultKind::kSlow);
  uint8_t buf[4];
  EXPECT_EQ(mem_.access(0x10000000, buf, Access::kRead).kind, FaultKind::kAccess);
}

TEST_F(SystemMemoryTest, Sv39SetsAccessedThenDirty) {
  sv39(5, pte(kRam + 0x10000, V | R | W));
  ram_.store<uint32_t>(kRam + 0x10004, 0xdeadbeef);
  uint8_t* p = mem_.translate(0x5004, 4, Access::kRead);
  ASSERT_NE(p, nullptr);
  uint32_t v;
  std::memcpy(&v, p, 4);
  EXPECT_EQ(v, 0xdeadbeefu);
  EXPECT_EQ(get(kRam + 0x2000 + 5 * 8) & (A | D), A);
  ASSERT_NE(mem_.translate(0x5008, 4, Access::kWrite), nullptr);
  EXPECT_EQ(get(kRam + 0x2000 + 5 * 8) & (A | D), A | D);
  EXPECT_EQ(access(0x5000, Access::kExec), FaultKind::kPage);
}

TEST_F(SystemMemoryTest, PermissionRules) {
  sv39(1, pte(kRam + 0x10000, V | R | W | U | A | D));
  EXPECT_EQ(access(0x1000, Access::kRead), FaultKind::kPage);  // S on a U page, SUM clear
  ps_.mstatus |= mstatus_bits::kSum;
  mem_.flush_tlb();
  EXPECT_EQ(access(0x1000, Access::kRead), FaultKind::kNone);
  ps_.priv = Priv::kU;
  mem_.flush_tlb();
  EXPECT_EQ(access(0x1000, Access::kWrite), FaultKind::kNone);
  // Execute-only page: readable only with MXR.
  sv39(2, pte(kRam + 0x11000, V | X | U | A));
  EXPECT_EQ(access(0x2000, Access::kExec), FaultKind::kNone);
  EXPECT_EQ(access(0x2000, Access::kRead), FaultKind::kPage);
  ps_.mstatus |= mstatus_bits::kMxr;
  mem_.flush_tlb();
  EXPECT_EQ(access(0x2000, Access::kRead), FaultKind::kNone);
  // Not user: U mode faults; S mode fetches from a U page always fault.
  sv39(3, pte(kRam + 0x12000, V | R | X | A));
  EXPECT_EQ(access(0x3000, Access::kRead), FaultKind::kPage);
  ps_.priv = Priv::kS;
  mem_.flush_tlb();
  EXPECT_EQ(access(0x2000, Access::kExec), FaultKind::kPage);
  EXPECT_EQ(access(0x3000, Access::kExec), FaultKind::kNone);
  // Reserved encodings: W without R, invalid, PBMT bits.
  sv39(4, pte(kRam + 0x13000, V | W | A | D));
  EXPECT_EQ(access(0x4000, Access::kWrite), FaultKind::kPage);
  sv39(4, pte(kRam + 0x13000, R | W | A | D));
  EXPECT_EQ(access(0x4000, Access::kRead), FaultKind::kPage);
  sv39(4, pte(kRam + 0x13000, V | R | A) | (1ull << 61));
  EXPECT_EQ(access(0x4000, Access::kRead), FaultKind::kPage);
}

TEST_F(SystemMemoryTest, SuperpagesAndCanonicalAddresses) {
  // A 2 MiB megapage at VA 0x200000 (level-1 index 1) -> kRam + 0x200000.
  set(kRam, pte(kRam + 0x1000, V));
  set(kRam + 0x1000 + 8, pte(kRam + 0x200000, V | R | W | A | D));
  ps_.satp = (kSatpSv39 << 60) | (kRam >> 12);
  mem_.flush_tlb();
  uint64_t pa = 0;
  ASSERT_EQ(mem_.resolve(0x212345, 1, Access::kRead, pa), FaultKind::kNone);
  EXPECT_EQ(pa, kRam + 0x212345);
  // Misaligned megapage: PPN[0] != 0.
  set(kRam + 0x1000 + 8, pte(kRam + 0x201000, V | R | W | A | D));
  mem_.flush_tlb();
  EXPECT_EQ(access(0x200000, Access::kRead), FaultKind::kPage);
  // Bit 38 set but upper bits clear: not canonical for Sv39.
  EXPECT_EQ(access(1ull << 38, Access::kRead), FaultKind::kPage);
  // PTE outside RAM: access fault.
  set(kRam, pte(0x1000000000, V));
  mem_.flush_tlb();
  EXPECT_EQ(access(0x0, Access::kRead), FaultKind::kAccess);
}

TEST_F(SystemMemoryTest, Sv48AndTlbFlush) {
  // Four levels: VA 0x0000_8000_0000_1000 has vpn3 = 1.
  const uint64_t va = 1ull << 39 | 0x1000;
  set(kRam + 8, pte(kRam + 0x1000, V));
  set(kRam + 0x1000, pte(kRam + 0x2000, V));
  set(kRam + 0x2000, pte(kRam + 0x3000, V));
  set(kRam + 0x3000 + 8, pte(kRam + 0x20000, V | R | A));
  ps_.satp = (kSatpSv48 << 60) | (kRam >> 12);
  mem_.flush_tlb();
  EXPECT_EQ(mem_.translate(va, 4, Access::kRead), ram_.host_ptr(kRam + 0x20000, 4));
  set(kRam + 0x3000 + 8, pte(kRam + 0x30000, V | R | A));
  EXPECT_EQ(mem_.translate(va, 4, Access::kRead), ram_.host_ptr(kRam + 0x20000, 4));  // stale
  mem_.flush_tlb();
  EXPECT_EQ(mem_.translate(va, 4, Access::kRead), ram_.host_ptr(kRam + 0x30000, 4));
  // MPRV: M-mode loads use MPP's translation.
  ps_.priv = Priv::kM;
  ps_.mstatus |= mstatus_bits::kMprv | (1ull << mstatus_bits::kMppShift);
  mem_.flush_tlb();
  EXPECT_EQ(mem_.translate(va, 4, Access::kRead), ram_.host_ptr(kRam + 0x30000, 4));
  EXPECT_EQ(mem_.translate(va, 4, Access::kExec), nullptr);  // fetches stay physical
}

TEST_F(SystemMemoryTest, PageCrossingAccessIsAtomicOnFault) {
  sv39(1, pte(kRam + 0x10000, V | R | W | A | D));
  sv39(2, 0);
  uint8_t buf[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  EXPECT_EQ(mem_.translate(0x1ffc, 8, Access::kWrite), nullptr);
  EXPECT_EQ(mem_.last_fault().kind, FaultKind::kSlow);
  EXPECT_EQ(mem_.access(0x1ffc, buf, Access::kWrite).kind, FaultKind::kPage);
  EXPECT_EQ(ram_.load<uint32_t>(kRam + 0x10ffc), 0u);  // nothing written
  sv39(2, pte(kRam + 0x20000, V | R | W | A | D));
  EXPECT_EQ(mem_.access(0x1ffc, buf, Access::kWrite).kind, FaultKind::kNone);
  EXPECT_EQ(ram_.load<uint32_t>(kRam + 0x10ffc), 0x04030201u);
  EXPECT_EQ(ram_.load<uint32_t>(kRam + 0x20000), 0x08070605u);
}

}  // namespace
}  // namespace tandem::riscv
