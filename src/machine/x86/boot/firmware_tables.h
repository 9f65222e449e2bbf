// The tables a PC BIOS leaves for the OS, for machines booted without firmware: ACPI (RSDP,
// XSDT, RSDT, FADT, FACS, DSDT, MADT) and the Intel MultiProcessor tables, all in the BIOS area
// 0xe0000-0xfffff (reserved in the e820 map).
#pragma once

#include <cstdint>
#include <vector>

#include "memory/guest_ram.h"

namespace tandem::x86 {

inline constexpr uint64_t kRsdpAddress = 0xe0000;  // also PVH's start_info.rsdp_paddr
inline constexpr uint64_t kMpFloatingPointerAddress = 0xf0000;

inline constexpr uint32_t kLocalApicAddress = 0xfee00000;
inline constexpr uint32_t kIoApicAddress = 0xfec00000;
inline constexpr uint8_t kSciIrq = 9;
// The FADT's PM1a event (4 bytes) and control (2 bytes) register blocks, at the I/O ports QEMU's
// PIIX4 power management uses. ACPI requires them on a non-hardware-reduced system; a machine
// that wants ACPI power-off backs them with a device.
inline constexpr uint16_t kAcpiPm1aEventPort = 0x600;
inline constexpr uint16_t kAcpiPm1aControlPort = 0x604;
inline constexpr unsigned kMaxFirmwareCpus = 254;  // APIC ids 0..n-1, the I/O APIC gets id n

// A virtio-mmio transport as the DSDT describes it: Device(VRnn) with _HID "LNRO0005" (the id
// Linux's virtio_mmio driver matches, as on QEMU's microvm), _UID n and a _CRS holding
// Memory32Fixed(ReadWrite, base, size) and Interrupt(ResourceConsumer, Level, ActiveHigh,
// Exclusive) { gsi }: virtio-mmio's interrupt is a level-triggered line on an IOAPIC pin.
struct VirtioMmioAcpi {
  uint32_t base = 0;
  uint32_t size = 0;
  uint32_t gsi = 0;
};

// Devices the firmware tables announce beyond the fixed PC ones.
struct FirmwareDevices {
  std::vector<VirtioMmioAcpi> virtio_mmio;  // _UID = index; at most 100 (VR00..VR99)
};

// The DSDT's definition block (the AML after the table header). Empty without devices: the
// legacy devices (i8042, RTC, UARTs, PIT) are found by the probes an x86 OS does anyway.
std::vector<uint8_t> dsdt_aml(const FirmwareDevices& devices);

// Writes all tables for `cpus` processors (APIC ids 0..cpus-1) and one I/O APIC (id cpus).
// Throws Error for cpus outside 1..kMaxFirmwareCpus or RAM not covering the BIOS area.
void write_firmware_tables(GuestRam& ram, unsigned cpus, const FirmwareDevices& devices);
inline void write_firmware_tables(GuestRam& ram, unsigned cpus) {
  write_firmware_tables(ram, cpus, FirmwareDevices{});
}

}  // namespace tandem::x86
