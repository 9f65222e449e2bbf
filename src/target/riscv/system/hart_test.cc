#include "target/riscv/system/hart.h"

#include <gtest/gtest.h>

#include <thread>

namespace tandem::riscv {
namespace {

constexpr uint64_t kRam = 0x80000000;

// Records the last write; reads return 0x12345678.
class RegDevice : public IoDevice {
 public:
  void io_read(uint64_t, std::span<uint8_t> data) override {
    const uint32_t v = 0x12345678;
    std::memcpy(data.data(), &v, std::min<size_t>(data.size(), 4));
  }
  void io_write(uint64_t offset, std::span<const uint8_t> data) override {
    last_offset = offset;
    last_size = data.size();
    last_value = 0;
    std::memcpy(&last_value, data.data(), std::min<size_t>(data.size(), 8));
  }
  uint64_t last_offset = 0, last_size = 0, last_value = 0;
};

class HartTest : public ::testing::Test {
 protected:
  HartTest() {
    ram_.add_region(kRam, 1 << 20);
    dev_ = std::make_shared<RegDevice>();
    mmio_.add(0x10000000, 0x1000, dev_, "reg");
    // The interpreter: these tests step single instructions (run(n) counts instructions).
    // The translator runs the same privileged layer in tests/riscv_virt.
    group_ =
        std::make_unique<HartGroup>(1, ram_, mmio_, PrivEnv{}, HartOptions{.translator = false});
    hart().cpu.pc = kRam;
    // PMP: everything for S/U (without a matching entry their accesses fail).
    hart().ps.pmp.addr[0] = ~0ull >> 10;
    hart().ps.pmp.cfg[0] = 0x1f;
  }
  SystemHart& hart() { return group_->hart(0); }
  void program(std::initializer_list<uint32_t> insns, uint64_t at = kRam) {
    for (uint32_t i : insns) {
      ram_.store(at, i);
      at += 4;
    }
  }

  GuestRam ram_;
  IoBus mmio_{"mmio"};
  std::shared_ptr<RegDevice> dev_;
  std::unique_ptr<HartGroup> group_;
};

TEST_F(HartTest, CsrReadsAndPrivilegeChecks) {
  program({0xf1402573,    // csrr a0, mhartid
           0x30002573});  // csrr a0, mstatus
  hart().cpu.x[10] = 99;
  hart().run(1);
  EXPECT_EQ(hart().cpu.x[10], 0u);
  // From S, mstatus is out of reach: illegal instruction to M with the bits in mtval.
  hart().ps.priv = Priv::kS;
  hart().ps.mtvec = kRam + 0x100;
  hart().run(1);
  EXPECT_EQ(hart().ps.priv, Priv::kM);
  EXPECT_EQ(hart().ps.mcause, kIllegalInsn);
  EXPECT_EQ(hart().ps.mtval, 0x30002573u);
  EXPECT_EQ(hart().ps.mepc, kRam + 4);
  EXPECT_EQ(hart().cpu.pc, kRam + 0x100);
}

TEST_F(HartTest, SetBitsInMipDoNotLatchTheExternalSeip) {
  program({0x34446073,    // csrsi mip, 8 (MSIP: read-only in mip, nothing changes)
           0x34416573});  // csrrsi a0, mip, 2 (SSIP)
  group_->set_pending(0, kMipSeip, true);
  hart().run(2);
  EXPECT_EQ(hart().cpu.x[10] & kSei, kSei);  // the read sees the PLIC's line
  EXPECT_EQ(hart().ps.mip_soft, kSsi);       // but the software SEIP stays clear
  group_->set_pending(0, kMipSeip, false);
  EXPECT_EQ(hart().ps.mip(hart().hw_pending()), kSsi);
}

TEST_F(HartTest, EcallFromUDelegatedToS) {
  program({0x00000073});  // ecall
  hart().ps.priv = Priv::kU;
  hart().ps.medeleg = 1u << kEcallU;
  hart().ps.stvec = kRam + 0x200;
  hart().run(1);
  EXPECT_EQ(hart().ps.priv, Priv::kS);
  EXPECT_EQ(hart().ps.scause, kEcallU);
  EXPECT_EQ(hart().ps.sepc, kRam);
  EXPECT_EQ(hart().cpu.pc, kRam + 0x200);
}

TEST_F(HartTest, MmioLoadsAndStoresAreEmulated) {
  program({0x00b52023,    // sw a1, 0(a0)
           0x00052603});  // lw a2, 0(a0)
  hart().cpu.x[10] = 0x10000010;
  hart().cpu.x[11] = 0xfffffffff00dbeefull;
  hart().run(2);
  EXPECT_EQ(dev_->last_offset, 0x10u);
  EXPECT_EQ(dev_->last_size, 4u);
  EXPECT_EQ(dev_->last_value, 0xf00dbeefu);
  EXPECT_EQ(hart().cpu.x[12], 0x12345678u);
  EXPECT_EQ(hart().cpu.pc, kRam + 8);
  // Nothing at the address: load access fault with the address in mtval.
  program({0x00052603}, kRam + 8);
  hart().cpu.x[10] = 0x20000000;
  hart().ps.mtvec = kRam + 0x100;
  hart().run(1);
  EXPECT_EQ(hart().ps.mcause, kLoadAccessFault);
  EXPECT_EQ(hart().ps.mtval, 0x20000000u);
}

TEST_F(HartTest, WfiSleepsUntilAnInterruptIsPendingFromAnotherThread) {
  program({0x10500073,    // wfi
           0x00700593,    // li a1, 7
           0x0000006f});  // j .
  hart().ps.mie = kMsi;   // enabled in mie, but mstatus.MIE = 0: WFI wakes without a trap
  std::thread raiser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    group_->set_pending(0, kMipMsip, true);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    group_->stop();
  });
  group_->run();
  raiser.join();
  EXPECT_EQ(hart().cpu.x[11], 7u);
  EXPECT_EQ(hart().traps_taken, 0u);
  // With MIE set, the same pending bit is taken as an interrupt.
  hart().ps.mstatus |= mstatus_bits::kMie;
  hart().ps.mtvec = kRam + 0x100;
  program({0x0000006f}, kRam + 0x100);  // j .
  hart().run(1);
  EXPECT_EQ(hart().ps.mcause, kInterruptFlag | 3);
  EXPECT_EQ(hart().ps.mepc, kRam + 8);
  EXPECT_EQ(hart().cpu.pc, kRam + 0x100);
}

}  // namespace
}  // namespace tandem::riscv
