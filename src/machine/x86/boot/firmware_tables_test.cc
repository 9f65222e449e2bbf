#include "machine/x86/boot/firmware_tables.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "base/error.h"
#include "machine/x86/boot/aml_decoder_test_util.h"
#include "machine/x86/boot/boot_test_util.h"

namespace tandem::x86 {
namespace {

using ::testing::HasSubstr;
using testing::read_guest;
using ::testing::ThrowsMessage;

constexpr uint64_t kMiB = 1ull << 20;

uint8_t sum(const std::vector<uint8_t>& bytes) {
  uint8_t s = 0;
  for (uint8_t b : bytes) s = static_cast<uint8_t>(s + b);
  return s;
}

std::string sig(const GuestRam& ram, uint64_t at, size_t len = 4) {
  auto b = read_guest(ram, at, len);
  return std::string(b.begin(), b.end());
}

// Finds a signature on a 16-byte boundary, as an OS scans the BIOS area.
uint64_t scan(const GuestRam& ram, uint64_t from, uint64_t to, const std::string& signature) {
  for (uint64_t at = from; at < to; at += 16) {
    if (sig(ram, at, signature.size()) == signature) return at;
  }
  return 0;
}

// Checks an ACPI table's signature, length and checksum; returns its bytes.
std::vector<uint8_t> acpi_table(const GuestRam& ram, uint64_t at, const std::string& signature) {
  EXPECT_EQ(sig(ram, at), signature);
  uint32_t length = ram.load<uint32_t>(at + 4);
  EXPECT_GE(length, 36u);
  auto bytes = read_guest(ram, at, length);
  EXPECT_EQ(sum(bytes), 0) << signature << " checksum";
  return bytes;
}

class FirmwareTablesTest : public ::testing::TestWithParam<unsigned> {
 protected:
  std::unique_ptr<GuestRam> ram_ = testing::make_ram(256 * kMiB);
};

TEST_P(FirmwareTablesTest, Acpi) {
  unsigned cpus = GetParam();
  write_firmware_tables(*ram_, cpus);
  const GuestRam& ram = *ram_;
  uint64_t rsdp = scan(ram, 0xe0000, 0x100000, "RSD PTR ");
  ASSERT_EQ(rsdp, kRsdpAddress);
  EXPECT_EQ(sum(read_guest(ram, rsdp, 20)), 0);
  EXPECT_EQ(sum(read_guest(ram, rsdp, 36)), 0);
  EXPECT_EQ(ram.load<uint8_t>(rsdp + 15), 2);
  EXPECT_EQ(ram.load<uint32_t>(rsdp + 20), 36u);

  uint64_t xsdt = ram.load<uint64_t>(rsdp + 24);
  auto x = acpi_table(ram, xsdt, "XSDT");
  uint64_t rsdt = ram.load<uint32_t>(rsdp + 16);
  auto r = acpi_table(ram, rsdt, "RSDT");
  ASSERT_EQ((x.size() - 36) / 8, (r.size() - 36) / 4);
  std::map<std::string, uint64_t> tables;
  for (size_t i = 0; i < (x.size() - 36) / 8; ++i) {
    uint64_t at = ram.load<uint64_t>(xsdt + 36 + i * 8);
    EXPECT_EQ(at, ram.load<uint32_t>(rsdt + 36 + i * 4));
    tables[sig(ram, at)] = at;
  }
  ASSERT_TRUE(tables.count("FACP"));
  ASSERT_TRUE(tables.count("APIC"));

  uint64_t fadt = tables["FACP"];
  auto f = acpi_table(ram, fadt, "FACP");
  EXPECT_EQ(f.size(), 276u);
  EXPECT_GE(f[8], 5);  // revision
  uint64_t dsdt = ram.load<uint64_t>(fadt + 140);
  EXPECT_EQ(dsdt, ram.load<uint32_t>(fadt + 40));
  acpi_table(ram, dsdt, "DSDT");
  uint64_t facs = ram.load<uint32_t>(fadt + 36);
  EXPECT_EQ(facs % 64, 0u);
  EXPECT_EQ(sig(ram, facs), "FACS");
  EXPECT_EQ(ram.load<uint32_t>(facs + 4), 64u);
  EXPECT_EQ(ram.load<uint16_t>(fadt + 46), 9);                 // SCI_INT
  EXPECT_EQ(ram.load<uint32_t>(fadt + 112) & (1u << 20), 0u);  // not HW_REDUCED_ACPI
  EXPECT_NE(ram.load<uint16_t>(fadt + 109) & 2, 0);            // 8042 present
  EXPECT_EQ(ram.load<uint16_t>(fadt + 109) & (1u << 5), 0);    // CMOS RTC present
  // PM1a blocks: 32-bit and 64-bit forms agree.
  EXPECT_EQ(ram.load<uint32_t>(fadt + 56), kAcpiPm1aEventPort);
  EXPECT_EQ(ram.load<uint64_t>(fadt + 148 + 4), kAcpiPm1aEventPort);
  EXPECT_EQ(ram.load<uint8_t>(fadt + 148 + 1), 8 * ram.load<uint8_t>(fadt + 88));
  EXPECT_EQ(ram.load<uint32_t>(fadt + 64), kAcpiPm1aControlPort);
  EXPECT_EQ(ram.load<uint64_t>(fadt + 172 + 4), kAcpiPm1aControlPort);
  EXPECT_EQ(ram.load<uint8_t>(fadt + 172 + 1), 8 * ram.load<uint8_t>(fadt + 89));

  uint64_t madt = tables["APIC"];
  auto m = acpi_table(ram, madt, "APIC");
  EXPECT_EQ(ram.load<uint32_t>(madt + 36), 0xfee00000u);
  EXPECT_EQ(ram.load<uint32_t>(madt + 40), 1u);  // PCAT_COMPAT
  std::vector<unsigned> apic_ids;
  unsigned ioapics = 0, overrides = 0;
  for (size_t at = 44; at < m.size();) {
    uint8_t type = m[at], len = m[at + 1];
    ASSERT_GE(len, 2);
    ASSERT_LE(at + len, m.size());
    if (type == 0) {
      EXPECT_EQ(len, 8);
      apic_ids.push_back(m[at + 3]);
      EXPECT_EQ(m[at + 4] & 1, 1);  // enabled
    } else if (type == 1) {
      ++ioapics;
      EXPECT_EQ(m[at + 2], cpus);  // I/O APIC id after the CPUs
      EXPECT_EQ(ram.load<uint32_t>(madt + at + 4), 0xfec00000u);
      EXPECT_EQ(ram.load<uint32_t>(madt + at + 8), 0u);
    } else if (type == 2) {
      ++overrides;
      uint8_t irq = m[at + 3];
      uint32_t gsi = ram.load<uint32_t>(madt + at + 4);
      uint16_t flags = ram.load<uint16_t>(madt + at + 8);
      if (irq == 0) {
        EXPECT_EQ(gsi, 2u);
      } else {
        EXPECT_EQ(irq, 9);
        EXPECT_EQ(gsi, 9u);
        EXPECT_EQ(flags, 0xd);  // active high, level
      }
    }
    at += len;
  }
  std::vector<unsigned> want(cpus);
  for (unsigned i = 0; i < cpus; ++i) want[i] = i;
  EXPECT_EQ(apic_ids, want);
  EXPECT_EQ(ioapics, 1u);
  EXPECT_EQ(overrides, 2u);
}

TEST_P(FirmwareTablesTest, MpTables) {
  unsigned cpus = GetParam();
  write_firmware_tables(*ram_, cpus);
  const GuestRam& ram = *ram_;
  uint64_t fp = scan(ram, 0xf0000, 0x100000, "_MP_");
  ASSERT_NE(fp, 0u);
  EXPECT_EQ(sum(read_guest(ram, fp, 16)), 0);
  EXPECT_EQ(ram.load<uint8_t>(fp + 8), 1);
  EXPECT_EQ(ram.load<uint8_t>(fp + 11), 0);  // a configuration table follows, no default config
  uint64_t table = ram.load<uint32_t>(fp + 4);
  EXPECT_EQ(sig(ram, table), "PCMP");
  uint16_t length = ram.load<uint16_t>(table + 4);
  EXPECT_EQ(sum(read_guest(ram, table, length)), 0);
  EXPECT_EQ(ram.load<uint32_t>(table + 36), 0xfee00000u);

  unsigned processors = 0, bsps = 0, buses = 0, ioapics = 0, intsrcs = 0, entries = 0;
  std::vector<bool> irq_seen(16);
  for (uint64_t at = table + 44; at < table + length; ++entries) {
    uint8_t type = ram.load<uint8_t>(at);
    if (type == 0) {
      EXPECT_EQ(ram.load<uint8_t>(at + 1), processors);
      uint8_t flags = ram.load<uint8_t>(at + 3);
      EXPECT_EQ(flags & 1, 1);
      bsps += (flags >> 1) & 1;
      ++processors;
      at += 20;
      continue;
    }
    if (type == 1) {
      ++buses;
      EXPECT_EQ(sig(ram, at + 2, 6), "ISA   ");
    } else if (type == 2) {
      ++ioapics;
      EXPECT_EQ(ram.load<uint8_t>(at + 1), cpus);
      EXPECT_EQ(ram.load<uint32_t>(at + 4), 0xfec00000u);
    } else if (type == 3) {
      ++intsrcs;
      uint8_t irq = ram.load<uint8_t>(at + 5);
      ASSERT_LT(irq, 16);
      irq_seen[irq] = true;
      EXPECT_EQ(ram.load<uint8_t>(at + 6), cpus);
      EXPECT_EQ(ram.load<uint8_t>(at + 7), irq == 0 ? 2 : irq);
    } else {
      EXPECT_EQ(type, 4);
    }
    at += 8;
  }
  EXPECT_EQ(entries, ram.load<uint16_t>(table + 34));
  EXPECT_EQ(processors, cpus);
  EXPECT_EQ(bsps, 1u);
  EXPECT_EQ(buses, 1u);
  EXPECT_EQ(ioapics, 1u);
  EXPECT_EQ(intsrcs, 15u);
  for (int irq = 0; irq < 16; ++irq) EXPECT_EQ(irq_seen[irq], irq != 2) << irq;
}

INSTANTIATE_TEST_SUITE_P(Cpus, FirmwareTablesTest, ::testing::Values(1u, 4u, 254u));

// The DSDT that the FADT points to carries the virtio-mmio devices, and the table (with 254 CPUs'
// worth of MADT next to it) still fits and checksums.
TEST(FirmwareTablesDevices, DsdtDescribesVirtioMmio) {
  auto ram = testing::make_ram(64 * kMiB);
  FirmwareDevices devices;
  devices.virtio_mmio.push_back({0xfeb00000, 0x200, 16});
  devices.virtio_mmio.push_back({0xfeb00200, 0x200, 17});
  write_firmware_tables(*ram, 254, devices);
  uint64_t rsdp = scan(*ram, 0xe0000, 0x100000, "RSD PTR ");
  uint64_t xsdt = ram->load<uint64_t>(rsdp + 24);
  uint64_t fadt = ram->load<uint64_t>(xsdt + 36);
  ASSERT_EQ(sig(*ram, fadt), "FACP");
  auto dsdt = acpi_table(*ram, ram->load<uint64_t>(fadt + 140), "DSDT");
  std::vector<uint8_t> body(dsdt.begin() + 36, dsdt.end());
  EXPECT_EQ(body, dsdt_aml(devices));
  auto objs = testing::decode_aml(body);
  ASSERT_EQ(objs.size(), 1u);
  ASSERT_EQ(objs[0].children.size(), 2u);
  EXPECT_EQ(objs[0].children[1].name, "VR01");
  EXPECT_EQ(objs[0].children[1].child("_HID")->string, "LNRO0005");
}

TEST(FirmwareTablesLimits, RejectsCpuCounts) {
  auto ram = testing::make_ram(64 * kMiB);
  EXPECT_THAT([&] { write_firmware_tables(*ram, 0); }, ThrowsMessage<Error>(HasSubstr("1 to 254")));
  EXPECT_THAT([&] { write_firmware_tables(*ram, 255); },
              ThrowsMessage<Error>(HasSubstr("1 to 254")));
}

}  // namespace
}  // namespace tandem::x86
