// Where the x86 machine puts its virtio-mmio transports: inside the 32-bit MMIO hole, clear of
// every other fixed range of the machine, one IOAPIC pin each above the ISA IRQs.
#include "machine/x86/x86_virtio.h"

#include <gtest/gtest.h>

#include "accel/kvm/memory_slots.h"
#include "hw/misc/testdev.h"
#include "hw/virtio/virtio_mmio.h"
#include "machine/x86/boot/firmware_tables.h"
#include "machine/x86/x86_memory_map.h"

namespace tandem::x86 {
namespace {

bool overlaps(uint64_t a, uint64_t a_size, uint64_t b, uint64_t b_size) {
  return a < b + b_size && b < a + a_size;
}

TEST(X86Virtio, WindowsLieInTheMmioHoleClearOfOtherDevices) {
  const uint64_t first = virtio_mmio_base(0);
  const uint64_t end = virtio_mmio_base(kVirtioMmioSlots - 1) + VirtioMmio::kSize;
  EXPECT_EQ(first, 0xfeb00000u);
  EXPECT_EQ(end, 0xfeb01000u);  // eight windows share one 4 KiB page
  EXPECT_GE(first, kMmioHoleStart);
  EXPECT_LE(end, kHighRamStart);
  const uint64_t size = end - first;
  EXPECT_FALSE(overlaps(first, size, kIoApicAddress, 0x1000));
  EXPECT_FALSE(overlaps(first, size, kLocalApicAddress, 0x100000));
  EXPECT_FALSE(overlaps(first, size, 0xfed00000, 0x1000));  // where a PC's HPET sits
  EXPECT_FALSE(overlaps(first, size, testdev::kMmioBase, testdev::kMmioSize));
  EXPECT_FALSE(
      overlaps(first, size, kvm::kKvmPrivateBase, kvm::kKvmPrivateEnd - kvm::kKvmPrivateBase));
  for (unsigned i = 1; i < kVirtioMmioSlots; ++i) {
    EXPECT_EQ(virtio_mmio_base(i), virtio_mmio_base(i - 1) + VirtioMmio::kSize);
  }
}

TEST(X86Virtio, OneIoApicPinEachAboveTheIsaIrqs) {
  for (unsigned i = 0; i < kVirtioMmioSlots; ++i) EXPECT_EQ(virtio_mmio_gsi(i), 16 + i);
  EXPECT_EQ(virtio_mmio_gsi(kVirtioMmioSlots - 1), 23u);  // KVM's IOAPIC has 24 pins
}

TEST(X86Virtio, AcpiDescriptionsFollowTheSlots) {
  EXPECT_TRUE(virtio_mmio_acpi(0).empty());
  auto acpi = virtio_mmio_acpi(3);
  ASSERT_EQ(acpi.size(), 3u);
  for (unsigned i = 0; i < 3; ++i) {
    EXPECT_EQ(acpi[i].base, virtio_mmio_base(i));
    EXPECT_EQ(acpi[i].size, VirtioMmio::kSize);
    EXPECT_EQ(acpi[i].gsi, virtio_mmio_gsi(i));
  }
}

}  // namespace
}  // namespace tandem::x86
