// Header parsing on hand-made headers (no QEMU needed), and the compressed descriptor layout.
#include "block/qcow2/qcow2_header.h"

#include <gtest/gtest.h>

#include "base/error.h"
#include "block/qcow2/qcow2_format.h"

namespace tandem::qcow2 {
namespace {

// A valid version 3 image layout with 64 KiB clusters: header, refcount table at 64 KiB, L1
// table at 192 KiB; the file is 256 KiB.
struct Image {
  std::vector<uint8_t> cluster = std::vector<uint8_t>(65536);
  uint64_t file_size = 256 << 10;
  Image() {
    uint8_t* p = cluster.data();
    store_be32(p, kMagic);
    store_be32(p + 4, 3);
    store_be32(p + 20, 16);
    store_be64(p + 24, 1 << 30);  // 1 GiB: two L2 tables
    store_be32(p + 36, 2);
    store_be64(p + 40, 3 << 16);
    store_be64(p + 48, 1 << 16);
    store_be32(p + 56, 1);
    store_be32(p + 96, 4);
    store_be32(p + 100, 112);
  }
  void ext(size_t& at, uint32_t type, const std::string& data) {
    store_be32(&cluster[at], type);
    store_be32(&cluster[at + 4], static_cast<uint32_t>(data.size()));
    std::copy(data.begin(), data.end(), cluster.begin() + at + 8);
    at += 8 + (data.size() + 7) / 8 * 8;
  }
  Header parse() const { return parse_header(cluster, file_size, "x.qcow2"); }
  std::string error() const {
    try {
      parse();
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
};

TEST(Qcow2Header, ParsesAValidHeader) {
  Image img;
  Header h = img.parse();
  EXPECT_EQ(h.version, 3u);
  EXPECT_EQ(h.cluster_size(), 65536u);
  EXPECT_EQ(h.l1_entries_needed(), 2u);
  EXPECT_EQ(h.refcount_bits(), 16u);
  EXPECT_EQ(h.header_length, 112u);
  EXPECT_TRUE(h.backing_file.empty());
}

TEST(Qcow2Header, ExtensionsAndBackingName) {
  Image img;
  size_t at = 112;
  img.ext(at, kExtBackingFormat, "qcow2");
  std::string names(96, '\0');
  names[0] = 0;
  names[1] = 9;
  std::string n = "shiny new thing";
  std::copy(n.begin(), n.end(), names.begin() + 2);
  names[48] = 2;
  names[49] = 0;
  img.ext(at, kExtFeatureNames, names);
  img.ext(at, 0x12345678, "ignored");
  img.ext(at, kExtEnd, "");
  std::string backing = "../base image.qcow2";
  std::copy(backing.begin(), backing.end(), img.cluster.begin() + at);
  store_be64(&img.cluster[8], at);
  store_be32(&img.cluster[16], static_cast<uint32_t>(backing.size()));
  Header h = img.parse();
  EXPECT_EQ(h.backing_format, "qcow2");
  EXPECT_EQ(h.backing_file, backing);
  EXPECT_EQ(h.feature_name(0, 9), "shiny new thing");
  EXPECT_EQ(h.feature_name(2, 0), "");
  EXPECT_EQ(h.feature_name(1, 9), "");
}

TEST(Qcow2Header, Refusals) {
  auto with = [](size_t offset, int width, uint64_t value) {
    Image img;
    if (width == 8) {
      store_be64(&img.cluster[offset], value);
    } else {
      store_be32(&img.cluster[offset], static_cast<uint32_t>(value));
    }
    return img.error();
  };
  EXPECT_EQ(with(20, 4, 22), "invalid qcow2 image 'x.qcow2': cluster_bits 22 is outside 9..21");
  EXPECT_EQ(with(36, 4, 1),
            "invalid qcow2 image 'x.qcow2': the L1 table (1 entries) is too small for the virtual "
            "size 1073741824 (needs 2)");
  EXPECT_EQ(with(40, 8, 0x30008),
            "invalid qcow2 image 'x.qcow2': the L1 table offset 0x30008 is not aligned to a "
            "cluster (65536 bytes)");
  EXPECT_EQ(with(40, 8, 0x40000),
            "invalid qcow2 image 'x.qcow2': the L1 table at offset 0x40000 (16 bytes) lies "
            "outside the file (262144 bytes)");
  EXPECT_EQ(with(48, 8, 0),
            "invalid qcow2 image 'x.qcow2': the refcount table at offset 0x0 "
            "overlaps the header");
  EXPECT_EQ(with(24, 8, ~0ull),
            "invalid qcow2 image 'x.qcow2': the L1 table (2 entries) is too small for the virtual "
            "size 18446744073709551615 (needs 34359738368)");
  EXPECT_EQ(with(100, 4, 1 << 20),
            "invalid qcow2 image 'x.qcow2': header_length 1048576 (must be a multiple of 8, at "
            "least 104 and at most the cluster size 65536)");
  EXPECT_EQ(with(8, 8, 65530),
            "invalid qcow2 image 'x.qcow2': backing file name length 0 (must be 1..1023)");
  Image img;
  img.cluster[104] = 1;  // zstd without the incompatible bit
  EXPECT_EQ(img.error(),
            "invalid qcow2 image 'x.qcow2': compression_type 1 without the compression type bit");
  img.cluster[79] = 8;  // the bit
  EXPECT_EQ(img.error(), "");
  img.cluster[104] = 2;
  EXPECT_EQ(img.error(),
            "qcow2 image 'x.qcow2' uses compression type 2, which is not supported (zlib or zstd)");
  Image runaway;
  store_be32(&runaway.cluster[112], kExtBackingFormat);
  store_be32(&runaway.cluster[116], 70000);
  EXPECT_EQ(runaway.error(),
            "invalid qcow2 image 'x.qcow2': header extension 0xe2792aca (70000 "
            "bytes) runs past the first cluster");
}

TEST(Qcow2Header, ShortFiles) {
  Image img;
  for (size_t n : {0, 3, 71, 103}) {
    std::vector<uint8_t> part(img.cluster.begin(), img.cluster.begin() + n);
    try {
      parse_header(part, n, "s.qcow2");
      FAIL() << n;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("s.qcow2"), std::string::npos) << e.what();
    }
  }
}

TEST(Qcow2Format, CompressedDescriptor) {
  // 64 KiB clusters: x = 62 - 8 = 54; offset in bits 0-53, additional sectors in 54-61.
  uint64_t entry = kOflagCompressed | (uint64_t{3} << 54) | 0x12345;
  CompressedExtent c = decode_compressed(entry, 16);
  EXPECT_EQ(c.offset, 0x12345u);
  EXPECT_EQ(c.length, 4 * 512 - 0x145u);
  // 2 MiB clusters: x = 49.
  entry = kOflagCompressed | (uint64_t{0x1fff} << 49) | 0x200;
  c = decode_compressed(entry, 21);
  EXPECT_EQ(c.offset, 0x200u);
  EXPECT_EQ(c.length, 0x2000u * 512);
}

}  // namespace
}  // namespace tandem::qcow2
