// The AML encoder against hand-checked encodings from the ACPI specification, and the DSDT's
// virtio-mmio devices decoded back (by aml_decoder_test_util, written from the spec separately).
#include "machine/x86/boot/aml.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/error.h"
#include "machine/x86/boot/aml_decoder_test_util.h"
#include "machine/x86/boot/firmware_tables.h"

namespace tandem::x86 {
namespace {

using testing::AmlObject;
using testing::decode_aml;
using testing::decode_resources;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

uint32_t le32(const std::vector<uint8_t>& b, size_t at) {
  return b[at] | b[at + 1] << 8 | b[at + 2] << 16 | uint32_t{b[at + 3]} << 24;
}

TEST(Aml, PkgLengthEncodings) {
  // One byte up to 63 (the value counts itself).
  EXPECT_THAT(aml::pkg_length(0), ElementsAre(0x01));
  EXPECT_THAT(aml::pkg_length(62), ElementsAre(0x3f));
  // 63 content bytes + 2 = 65 = 0x41: lead 0x40 | 0x1, then 0x41 >> 4.
  EXPECT_THAT(aml::pkg_length(63), ElementsAre(0x41, 0x04));
  // 4093 + 2 = 4095: the largest two-byte value.
  EXPECT_THAT(aml::pkg_length(4093), ElementsAre(0x4f, 0xff));
  // 4094 + 3 = 4097 = 0x1001: three bytes.
  EXPECT_THAT(aml::pkg_length(4094), ElementsAre(0x81, 0x00, 0x01));
  // 2^20 - 4 + 3 = 0xfffff: the largest three-byte value; one more needs four bytes.
  EXPECT_THAT(aml::pkg_length((1u << 20) - 4), ElementsAre(0x8f, 0xff, 0xff));
  EXPECT_THAT(aml::pkg_length((1u << 20) - 3), ElementsAre(0xc1, 0x00, 0x00, 0x01));
  EXPECT_THAT(aml::pkg_length((1u << 28) - 5), ElementsAre(0xcf, 0xff, 0xff, 0xff));
  EXPECT_THROW(aml::pkg_length(1u << 28), Error);
}

TEST(Aml, NameStrings) {
  EXPECT_THAT(aml::name_string("_HID"), ElementsAre('_', 'H', 'I', 'D'));
  EXPECT_THAT(aml::name_string("\\_SB"), ElementsAre('\\', '_', 'S', 'B', '_'));
  EXPECT_THAT(aml::name_string("\\_SB.VR00"),
              ElementsAre('\\', 0x2e, '_', 'S', 'B', '_', 'V', 'R', '0', '0'));
  EXPECT_THAT(aml::name_string("A.B.C"),
              ElementsAre(0x2f, 3, 'A', '_', '_', '_', 'B', '_', '_', '_', 'C', '_', '_', '_'));
  EXPECT_THROW(aml::name_string("0ABC"), Error);  // digit first
  EXPECT_THROW(aml::name_string("ABCDE"), Error);
  EXPECT_THROW(aml::name_string("ab"), Error);
  EXPECT_THROW(aml::name_string(""), Error);
  EXPECT_THROW(aml::name_string("A..B"), Error);
}

TEST(Aml, Integers) {
  EXPECT_THAT(aml::integer(0), ElementsAre(0x00));
  EXPECT_THAT(aml::integer(1), ElementsAre(0x01));
  EXPECT_THAT(aml::integer(2), ElementsAre(0x0a, 2));
  EXPECT_THAT(aml::integer(0x1234), ElementsAre(0x0b, 0x34, 0x12));
  EXPECT_THAT(aml::integer(0xfeb00000), ElementsAre(0x0c, 0x00, 0x00, 0xb0, 0xfe));
  EXPECT_THAT(aml::integer(0x100000000), ElementsAre(0x0e, 0, 0, 0, 0, 1, 0, 0, 0));
  EXPECT_THAT(aml::integer(~uint64_t{0}), ElementsAre(0xff));
}

TEST(Aml, StringsAndBuffers) {
  EXPECT_THAT(aml::string("LNRO0005"),
              ElementsAre(0x0d, 'L', 'N', 'R', 'O', '0', '0', '0', '5', 0));
  EXPECT_THROW(aml::string(std::string_view("a\0b", 3)), Error);
  // Buffer(3) {1, 2, 3}: BufferOp, PkgLength 6 (itself, BytePrefix 3, three bytes), size.
  aml::Bytes data{1, 2, 3};
  EXPECT_THAT(aml::buffer(data), ElementsAre(0x11, 0x06, 0x0a, 0x03, 1, 2, 3));
}

TEST(Aml, ResourceDescriptors) {
  // ACPI 6.5 section 6.4.3.4: 0x86, length 9, information (bit 0: read/write), base, length.
  EXPECT_THAT(aml::memory32_fixed(true, 0xfeb00200, 0x200),
              ElementsAre(0x86, 0x09, 0x00, 0x01, 0x00, 0x02, 0xb0, 0xfe, 0x00, 0x02, 0x00, 0x00));
  // Section 6.4.3.6: 0x89, length 6, flags, table length 1, the interrupt number.
  EXPECT_THAT(aml::extended_interrupt(aml::kIrqConsumer, 17),
              ElementsAre(0x89, 0x06, 0x00, 0x01, 0x01, 17, 0, 0, 0));
  // An empty template is just the End Tag (small item 0xf, length 1, checksum 0).
  EXPECT_THAT(aml::resource_template({}), ElementsAre(0x11, 0x05, 0x0a, 0x02, 0x79, 0x00));
}

TEST(Aml, DeviceAndScopeDecodeBack) {
  aml::Bytes body = aml::name("_HID", aml::string("ABCD0001"));
  aml::append(body, aml::name("_UID", aml::integer(7)));
  auto bytes = aml::scope("\\_SB", aml::device("DEV0", body));
  auto objs = decode_aml(bytes);
  ASSERT_EQ(objs.size(), 1u);
  EXPECT_EQ(objs[0].kind, AmlObject::Kind::kScope);
  EXPECT_EQ(objs[0].name, "\\_SB_");
  ASSERT_EQ(objs[0].children.size(), 1u);
  const AmlObject& dev = objs[0].children[0];
  EXPECT_EQ(dev.kind, AmlObject::Kind::kDevice);
  EXPECT_EQ(dev.name, "DEV0");
  ASSERT_NE(dev.child("_HID"), nullptr);
  EXPECT_EQ(dev.child("_HID")->string, "ABCD0001");
  EXPECT_EQ(dev.child("_UID")->integer, 7u);
  // The decoder is strict: a truncated stream is an error, so the checks above mean something.
  bytes.pop_back();
  EXPECT_THROW(decode_aml(bytes), std::runtime_error);
}

// A device body big enough for multi-byte PkgLengths decodes back to the same objects.
TEST(Aml, LongPackagesDecodeBack) {
  aml::Bytes body;
  for (int i = 0; i < 300; ++i) {
    aml::append(body, aml::name("N" + std::to_string(100 + i).substr(0, 3), aml::integer(i)));
  }
  auto objs = decode_aml(aml::device("BIG0", body));
  ASSERT_EQ(objs.size(), 1u);
  ASSERT_EQ(objs[0].children.size(), 300u);
  EXPECT_EQ(objs[0].children[299].integer, 299u);
}

TEST(Dsdt, EmptyWithoutDevices) {
  EXPECT_TRUE(dsdt_aml({}).empty());
}

// What Linux's ACPI scan turns into a platform device "LNRO0005:0n" for virtio_mmio: per device
// a _HID, a _UID and a _CRS with the register window and a level-triggered, active-high GSI.
TEST(Dsdt, VirtioMmioDevices) {
  FirmwareDevices devices;
  for (uint32_t i = 0; i < 8; ++i)
    devices.virtio_mmio.push_back({0xfeb00000 + 0x200 * i, 0x200, 16 + i});
  auto objs = decode_aml(dsdt_aml(devices));
  ASSERT_EQ(objs.size(), 1u);
  EXPECT_EQ(objs[0].kind, AmlObject::Kind::kScope);
  EXPECT_EQ(objs[0].name, "\\_SB_");
  ASSERT_EQ(objs[0].children.size(), 8u);
  for (uint32_t i = 0; i < 8; ++i) {
    SCOPED_TRACE(i);
    const AmlObject& dev = objs[0].children[i];
    EXPECT_EQ(dev.kind, AmlObject::Kind::kDevice);
    EXPECT_EQ(dev.name, "VR0" + std::to_string(i));
    ASSERT_EQ(dev.children.size(), 3u);
    ASSERT_NE(dev.child("_HID"), nullptr);
    EXPECT_EQ(dev.child("_HID")->string, "LNRO0005");
    ASSERT_NE(dev.child("_UID"), nullptr);
    EXPECT_EQ(dev.child("_UID")->integer, i);
    ASSERT_NE(dev.child("_CRS"), nullptr);
    ASSERT_TRUE(dev.child("_CRS")->buffer.has_value());
    auto res = decode_resources(*dev.child("_CRS")->buffer);
    ASSERT_EQ(res.size(), 2u);
    EXPECT_TRUE(res[0].large);
    EXPECT_EQ(res[0].tag, 0x86);  // Memory32Fixed
    ASSERT_EQ(res[0].data.size(), 9u);
    EXPECT_EQ(res[0].data[0], 1);  // read/write
    EXPECT_EQ(le32(res[0].data, 1), 0xfeb00000 + 0x200 * i);
    EXPECT_EQ(le32(res[0].data, 5), 0x200u);
    EXPECT_TRUE(res[1].large);
    EXPECT_EQ(res[1].tag, 0x89);  // Extended Interrupt
    ASSERT_EQ(res[1].data.size(), 6u);
    EXPECT_EQ(res[1].data[0], 0x01);  // consumer, level, active-high, exclusive
    EXPECT_EQ(res[1].data[1], 1);     // one interrupt
    EXPECT_EQ(le32(res[1].data, 2), 16 + i);
  }
}

TEST(Dsdt, TooManyDevices) {
  FirmwareDevices devices;
  devices.virtio_mmio.resize(101, {0xfeb00000, 0x200, 16});
  EXPECT_THROW(dsdt_aml(devices), Error);
}

}  // namespace
}  // namespace tandem::x86
