// LevelIrqFd against a real in-kernel IOAPIC: raising the line asserts the GSI (seen in the
// IOAPIC's IRR through KVM_GET_IRQCHIP), lowering it leaves the GSI to the guest's EOI, and
// removing the line de-asserts it. The EOI/resample path needs a running guest: the x86 virtio
// integration tests cover it (tests/guests/x86/guests/virtio_rng.c checks re-delivery).
#include "accel/kvm/level_irqfd.h"

#include <gtest/gtest.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "accel/kvm/kvm_system.h"
#include "accel/kvm/kvm_vm.h"
#include "accel/kvm/memory_slots.h"
#include "base/error.h"
#include "base/event_loop.h"

namespace tandem::kvm {
namespace {

bool have_kvm() {
  return ::access("/dev/kvm", R_OK | W_OK) == 0;
}

uint32_t ioapic_irr(const KvmVm& vm) {
  kvm_irqchip chip{};
  chip.chip_id = KVM_IRQCHIP_IOAPIC;
  if (::ioctl(vm.fd(), KVM_GET_IRQCHIP, &chip) < 0) fail_errno("KVM_GET_IRQCHIP");
  return chip.chip.ioapic.irr;
}

// irqfd injection for an IOAPIC pin runs from a kernel work item: wait for it.
bool wait_irr(const KvmVm& vm, uint32_t gsi, bool want) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (std::chrono::steady_clock::now() < deadline) {
    if (((ioapic_irr(vm) >> gsi) & 1) == want) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

TEST(LevelIrqFd, AssertsTheGsiUntilRemoved) {
  if (!have_kvm()) GTEST_SKIP() << "/dev/kvm not accessible";
  KvmSystem sys;
  KvmVm vm(sys);
  vm.set_tss_addr(kTssAddr);
  vm.create_irqchip();
  IoThread io;
  constexpr uint32_t kGsi = 17;
  {
    LevelIrqFd line(vm, kGsi, io.loop());
    EXPECT_EQ(line.gsi(), kGsi);
    EXPECT_FALSE((ioapic_irr(vm) >> kGsi) & 1);
    line.set_level(true);
    EXPECT_TRUE(line.level());
    EXPECT_TRUE(wait_irr(vm, kGsi, true)) << "irqfd did not assert GSI " << kGsi;
    // Lowering the level does not touch the GSI: only an EOI (resample) de-asserts it.
    line.set_level(false);
    EXPECT_FALSE(line.level());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_TRUE((ioapic_irr(vm) >> kGsi) & 1);
    EXPECT_EQ(line.reasserts(), 0u);
    // Other pins are untouched.
    EXPECT_EQ(ioapic_irr(vm) & ~(1u << kGsi), 0u);
  }
  // Deassigning the last irqfd of a GSI drops its resampler, which de-asserts the pin.
  EXPECT_TRUE(wait_irr(vm, kGsi, false));
  // The GSI is free again: a new line can take it.
  LevelIrqFd again(vm, kGsi, io.loop());
  again.set_level(true);
  EXPECT_TRUE(wait_irr(vm, kGsi, true));
}

TEST(LevelIrqFd, NeedsAnIrqchip) {
  if (!have_kvm()) GTEST_SKIP() << "/dev/kvm not accessible";
  KvmSystem sys;
  KvmVm vm(sys);
  EventLoop loop;
  EXPECT_THROW(LevelIrqFd(vm, 16, loop), Error);
}

}  // namespace
}  // namespace tandem::kvm
