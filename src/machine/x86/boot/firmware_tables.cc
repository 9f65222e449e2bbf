#include "machine/x86/boot/firmware_tables.h"

#include <string_view>
#include <vector>

#include "base/error.h"
#include "machine/x86/boot/aml.h"
#include "machine/x86/boot/bytes.h"
#include "machine/x86/boot/loader_util.h"

namespace tandem::x86 {
namespace {

constexpr uint64_t kBiosAreaStart = 0xe0000;
constexpr uint64_t kBiosAreaEnd = 0x100000;
constexpr uint64_t kAcpiAreaEnd = kMpFloatingPointerAddress;
constexpr std::string_view kOemId = "TANDEM";
constexpr std::string_view kOemTableId = "TANDEMPC";
constexpr uint32_t kCreatorId = 0x4d444e54;  // "TNDM"

// Bump allocation of table addresses in the ACPI part of the BIOS area.
class TableArea {
 public:
  TableArea(uint64_t start, uint64_t end) : next_(start), end_(end) {}
  uint64_t alloc(uint64_t size, uint64_t align) {
    uint64_t at = align_up(next_, align);
    if (size > end_ - at) fail("firmware tables do not fit in the BIOS area");
    next_ = at + size;
    return at;
  }

 private:
  uint64_t next_, end_;
};

// ---- ACPI ----

// A system description table: the 36-byte header, then the body. finish() sets length and checksum.
ByteBuilder sdt(std::string_view signature, uint8_t revision) {
  ByteBuilder t(36);
  t.put_str(0, signature, 4);
  t.put8(8, revision);
  t.put_str(10, kOemId, 6);
  t.put_str(16, kOemTableId, 8);
  t.put32(24, 1);  // OEM revision
  t.put32(28, kCreatorId);
  t.put32(32, 1);  // creator revision
  return t;
}

const std::vector<uint8_t>& finish(ByteBuilder& t) {
  t.put32(4, static_cast<uint32_t>(t.size()));
  t.put8(9, 0);
  t.put8(9, checksum_byte(t.bytes()));
  return t.bytes();
}

// A Generic Address Structure for an I/O port register block.
void put_io_gas(ByteBuilder& t, size_t offset, uint16_t port, uint8_t bytes) {
  t.put8(offset, 1);  // system I/O space
  t.put8(offset + 1, static_cast<uint8_t>(bytes * 8));
  t.put8(offset + 2, 0);
  t.put8(offset + 3, 0);  // access size undefined (legacy reasons)
  t.put64(offset + 4, port);
}

ByteBuilder build_facs() {
  ByteBuilder t(64);
  t.put_str(0, "FACS", 4);
  t.put32(4, 64);
  t.put8(32, 2);  // version
  return t;
}

ByteBuilder build_dsdt(const FirmwareDevices& devices) {
  ByteBuilder t = sdt("DSDT", 2);  // revision 2: 64-bit integers
  auto body = dsdt_aml(devices);
  t.put_bytes(t.size(), body);
  return t;
}

ByteBuilder build_fadt(uint64_t facs, uint64_t dsdt) {
  ByteBuilder t = sdt("FACP", 6);  // ACPI 6.0 FADT: 276 bytes
  t.put8(275, 0);                  // grow to the full 276 bytes
  t.put32(36, static_cast<uint32_t>(facs));
  t.put32(40, static_cast<uint32_t>(dsdt));
  t.put8(45, 0);  // preferred PM profile: unspecified
  t.put16(46, kSciIrq);
  // SMI_CMD = 0: the system is always in ACPI mode, there is nothing to switch.
  t.put32(56, kAcpiPm1aEventPort);
  t.put32(64, kAcpiPm1aControlPort);
  t.put8(88, 4);  // PM1_EVT_LEN
  t.put8(89, 2);  // PM1_CNT_LEN
  // No PM timer, no GPE blocks (both optional since ACPI 5.0).
  t.put16(96, 101);   // P_LVL2_LAT > 100: no C2
  t.put16(98, 1001);  // P_LVL3_LAT > 1000: no C3
  t.put8(108, 0x32);  // CENTURY: the CMOS byte holding the century
  // IAPC_BOOT_ARCH: legacy ISA devices and an 8042 are present; no VGA to probe.
  t.put16(109, (1u << 0) | (1u << 1) | (1u << 2));
  // Flags: WBINVD works, C1 supported, power and sleep buttons not fixed-feature, no RTC wake.
  t.put32(112, (1u << 0) | (1u << 2) | (1u << 4) | (1u << 5) | (1u << 6));
  t.put8(131, 0);      // FADT minor version
  t.put64(140, dsdt);  // X_DSDT
  put_io_gas(t, 148, kAcpiPm1aEventPort, 4);
  put_io_gas(t, 172, kAcpiPm1aControlPort, 2);
  t.put_str(268, "TANDEM", 8, '\0');  // hypervisor vendor identity
  return t;
}

ByteBuilder build_madt(unsigned cpus) {
  ByteBuilder t = sdt("APIC", 3);
  t.add32(kLocalApicAddress);
  t.add32(1);                            // PCAT_COMPAT: dual 8259s are present
  for (unsigned i = 0; i < cpus; ++i) {  // Processor Local APIC
    t.add8(0);
    t.add8(8);
    t.add8(static_cast<uint8_t>(i));  // ACPI processor UID
    t.add8(static_cast<uint8_t>(i));  // APIC id
    t.add32(1);                       // enabled
  }
  t.add8(1);  // I/O APIC
  t.add8(12);
  t.add8(static_cast<uint8_t>(cpus));
  t.add8(0);
  t.add32(kIoApicAddress);
  t.add32(0);  // GSI base
  auto source_override = [&](uint8_t irq, uint32_t gsi, uint16_t flags) {
    t.add8(2);
    t.add8(10);
    t.add8(0);  // ISA
    t.add8(irq);
    t.add32(gsi);
    t.add16(flags);
  };
  source_override(0, 2, 0);                // the PIT's IRQ 0 is wired to GSI 2
  source_override(kSciIrq, kSciIrq, 0xd);  // SCI: active high, level triggered
  t.add8(4);                               // Local APIC NMI: LINT1 of every processor
  t.add8(6);
  t.add8(0xff);
  t.add16(0);
  t.add8(1);
  return t;
}

uint64_t write_table(const GuestRam& ram, TableArea& area, ByteBuilder& table, uint64_t align) {
  const auto& bytes = finish(table);
  uint64_t at = area.alloc(bytes.size(), align);
  write_guest(ram, at, bytes);
  return at;
}

void write_acpi(const GuestRam& ram, unsigned cpus, const FirmwareDevices& devices) {
  TableArea area(kRsdpAddress + 64, kAcpiAreaEnd);
  ByteBuilder facs = build_facs();
  uint64_t facs_at = area.alloc(facs.size(), 64);
  write_guest(ram, facs_at, facs.bytes());
  ByteBuilder dsdt = build_dsdt(devices);
  uint64_t dsdt_at = write_table(ram, area, dsdt, 16);
  ByteBuilder fadt = build_fadt(facs_at, dsdt_at);
  uint64_t fadt_at = write_table(ram, area, fadt, 16);
  ByteBuilder madt = build_madt(cpus);
  uint64_t madt_at = write_table(ram, area, madt, 16);

  ByteBuilder xsdt = sdt("XSDT", 1);
  xsdt.add64(fadt_at);
  xsdt.add64(madt_at);
  uint64_t xsdt_at = write_table(ram, area, xsdt, 16);
  ByteBuilder rsdt = sdt("RSDT", 1);
  rsdt.add32(static_cast<uint32_t>(fadt_at));
  rsdt.add32(static_cast<uint32_t>(madt_at));
  uint64_t rsdt_at = write_table(ram, area, rsdt, 16);

  ByteBuilder rsdp(36);
  rsdp.put_str(0, "RSD PTR ", 8);
  rsdp.put_str(9, kOemId, 6);
  rsdp.put8(15, 2);  // ACPI 2.0+: XSDT present
  rsdp.put32(16, static_cast<uint32_t>(rsdt_at));
  rsdp.put32(20, 36);
  rsdp.put64(24, xsdt_at);
  rsdp.put8(8, checksum_byte(std::span(rsdp.bytes()).first(20)));
  rsdp.put8(32, checksum_byte(rsdp.bytes()));
  write_guest(ram, kRsdpAddress, rsdp.bytes());
}

// ---- Intel MultiProcessor Specification 1.4 ----

void write_mp_tables(const GuestRam& ram, unsigned cpus) {
  constexpr uint8_t kLocalApicVersion = 0x14;
  constexpr uint8_t kIoApicVersion = 0x11;
  constexpr uint32_t kCpuSignature = 0x600;  // family 6
  constexpr uint32_t kCpuFeatures = 0x201;   // FPU, APIC
  const uint64_t table_at = kMpFloatingPointerAddress + 16;
  const uint8_t ioapic_id = static_cast<uint8_t>(cpus);

  ByteBuilder t(44);  // configuration table header
  t.put_str(0, "PCMP", 4);
  t.put8(6, 4);  // spec revision 1.4
  t.put_str(8, kOemId, 8);
  t.put_str(16, "TANDEM PC", 12);
  t.put32(36, kLocalApicAddress);
  uint16_t entries = 0;
  for (unsigned i = 0; i < cpus; ++i, ++entries) {  // processor
    t.add8(0);
    t.add8(static_cast<uint8_t>(i));
    t.add8(kLocalApicVersion);
    t.add8(i == 0 ? 0x3 : 0x1);  // enabled, bootstrap processor
    t.add32(kCpuSignature);
    t.add32(kCpuFeatures);
    t.add32(0);
    t.add32(0);
  }
  t.add8(1);  // bus 0: ISA
  t.add8(0);
  t.add_str("ISA", 6);
  ++entries;
  t.add8(2);  // I/O APIC
  t.add8(ioapic_id);
  t.add8(kIoApicVersion);
  t.add8(1);  // enabled
  t.add32(kIoApicAddress);
  ++entries;
  for (uint8_t irq = 0; irq < 16; ++irq) {  // I/O interrupt assignments
    if (irq == 2) continue;                 // the cascade; IRQ 0 takes its pin
    t.add8(3);
    t.add8(0);                          // INT
    t.add16(irq == kSciIrq ? 0xd : 0);  // SCI level/high as in the MADT, others bus default
    t.add8(0);                          // source bus: ISA
    t.add8(irq);
    t.add8(ioapic_id);
    t.add8(irq == 0 ? 2 : irq);
    ++entries;
  }
  auto local_interrupt = [&](uint8_t type, uint8_t lint) {
    t.add8(4);
    t.add8(type);
    t.add16(0);
    t.add8(0);  // source bus
    t.add8(0);
    t.add8(0xff);  // every local APIC
    t.add8(lint);
    ++entries;
  };
  local_interrupt(3, 0);  // ExtINT (the 8259s) on LINT0
  local_interrupt(1, 1);  // NMI on LINT1
  t.put16(4, static_cast<uint16_t>(t.size()));
  t.put16(34, entries);
  t.put8(7, checksum_byte(t.bytes()));
  if (table_at + t.size() > kBiosAreaEnd) fail("MP tables do not fit in the BIOS area");
  write_guest(ram, table_at, t.bytes());

  ByteBuilder fp(16);
  fp.put_str(0, "_MP_", 4);
  fp.put32(4, static_cast<uint32_t>(table_at));
  fp.put8(8, 1);  // length in 16-byte units
  fp.put8(9, 4);  // spec revision 1.4
  fp.put8(10, checksum_byte(fp.bytes()));
  write_guest(ram, kMpFloatingPointerAddress, fp.bytes());
}

}  // namespace

std::vector<uint8_t> dsdt_aml(const FirmwareDevices& devices) {
  if (devices.virtio_mmio.empty()) return {};
  if (devices.virtio_mmio.size() > 100) {
    fail("{} virtio-mmio devices for the DSDT; at most 100", devices.virtio_mmio.size());
  }
  aml::Bytes sb;
  for (size_t i = 0; i < devices.virtio_mmio.size(); ++i) {
    const VirtioMmioAcpi& d = devices.virtio_mmio[i];
    aml::Bytes crs = aml::memory32_fixed(/*writable=*/true, d.base, d.size);
    aml::append(crs, aml::extended_interrupt(aml::kIrqConsumer, d.gsi));  // level, high, exclusive
    aml::Bytes body = aml::name("_HID", aml::string("LNRO0005"));
    aml::append(body, aml::name("_UID", aml::integer(i)));
    aml::append(body, aml::name("_CRS", aml::resource_template(crs)));
    aml::append(sb, aml::device(fmt::format("VR{:02}", i), body));
  }
  return aml::scope("\\_SB", sb);
}

void write_firmware_tables(GuestRam& ram, unsigned cpus, const FirmwareDevices& devices) {
  if (cpus < 1 || cpus > kMaxFirmwareCpus) {
    fail("{} CPUs requested; the firmware tables describe 1 to {}", cpus, kMaxFirmwareCpus);
  }
  if (!ram.contains(kBiosAreaStart, kBiosAreaEnd - kBiosAreaStart)) {
    fail("guest RAM does not cover the BIOS area [{:#x}, {:#x}) for the firmware tables",
         kBiosAreaStart, kBiosAreaEnd);
  }
  write_guest(ram, kBiosAreaStart, std::vector<uint8_t>(kBiosAreaEnd - kBiosAreaStart, 0));
  write_acpi(ram, cpus, devices);
  write_mp_tables(ram, cpus);
}

}  // namespace tandem::x86
