// Reading images that QEMU wrote: every byte must match `qemu-img convert -O raw`.
#include <gtest/gtest.h>

#include <random>

#include "block/qcow2/qcow2_image.h"
#include "block/qcow2/qemu_tools.h"

namespace tandem::qcow2 {
namespace {

using testing::must_run;
using testing::our_contents;
using testing::qemu_contents;
using testing::ScratchDir;

void qemu_io(const std::string& image, const std::string& format, const std::string& commands) {
  must_run("qemu-io -f " + format + " " + commands + " '" + image + "'");
}

// Patterns at scattered offsets: whole clusters, partial ones, runs crossing L2 tables.
std::string scattered_writes() {
  return "-c 'write -P 0xab 0 64k' -c 'write -P 0x11 100k 3k' -c 'write -P 0x22 1M 1536k' "
         "-c 'write -P 0x33 7M 512' -c 'write -P 0x44 8191k 1k'";
}

void expect_same(const std::vector<uint8_t>& ours, const std::vector<uint8_t>& qemu) {
  ASSERT_EQ(ours.size(), qemu.size());
  for (size_t i = 0; i < ours.size(); ++i) {
    if (ours[i] != qemu[i]) {
      FAIL() << "first difference at byte " << i << ": ours " << int(ours[i]) << ", QEMU's "
             << int(qemu[i]);
    }
  }
}

class Qcow2ReadTest : public ::testing::Test {
 protected:
  void SetUp() override { SKIP_WITHOUT_QEMU_IMG(); }
  ScratchDir dir_;
};

TEST_F(Qcow2ReadTest, Version2And3AndClusterSizes) {
  struct Case {
    const char* options;
    uint32_t version;
    uint32_t cluster_bits;
  };
  for (const Case& c :
       {Case{"compat=0.10", 2, 16}, Case{"compat=1.1", 3, 16},
        Case{"compat=1.1,cluster_size=512", 3, 9}, Case{"compat=0.10,cluster_size=4k", 2, 12},
        Case{"compat=1.1,cluster_size=2M", 3, 21}}) {
    SCOPED_TRACE(c.options);
    std::string img = dir_.file("img.qcow2");
    must_run("qemu-img create -q -f qcow2 -o " + std::string(c.options) + " " + img + " 8M");
    qemu_io(img, "qcow2", scattered_writes());
    Qcow2Image::Options ro;
    ro.read_only = true;
    auto image = Qcow2Image::open(img, ro);
    EXPECT_EQ(image->header().version, c.version);
    EXPECT_EQ(image->header().cluster_bits, c.cluster_bits);
    EXPECT_EQ(image->size(), 8u << 20);
    std::vector<uint8_t> ours = our_contents(*image);
    expect_same(ours, qemu_contents(dir_, img));
    EXPECT_EQ(ours[0], 0xab);
    EXPECT_EQ(ours[(1 << 20) + 1000], 0x22);
  }
}

TEST_F(Qcow2ReadTest, UnalignedReadsAndScatteredBuffers) {
  std::string img = dir_.file("img.qcow2");
  must_run("qemu-img create -q -f qcow2 -o cluster_size=4k " + img + " 1M");
  qemu_io(img, "qcow2", "-c 'write -P 0x5a 4k 8k' -c 'write -P 0x6b 20k 2k'");
  std::vector<uint8_t> qemu = qemu_contents(dir_, img);
  Qcow2Image::Options ro;
  ro.read_only = true;
  auto image = Qcow2Image::open(img, ro);
  std::mt19937_64 rng(1);
  for (int i = 0; i < 300; ++i) {
    uint64_t off = rng() % (64 << 10);
    uint64_t len = 1 + rng() % (24 << 10);
    // Three buffers of odd sizes.
    std::vector<uint8_t> a(len / 3), b(len / 3 + 1), c(len - len / 3 - (len / 3 + 1) + 0);
    if (len < 3) {
      a.assign(len, 0);
      b.clear();
      c.clear();
    }
    iovec v[3] = {{a.data(), a.size()}, {b.data(), b.size()}, {c.data(), c.size()}};
    ASSERT_EQ(image->read(off, v), 0);
    std::vector<uint8_t> got(a);
    got.insert(got.end(), b.begin(), b.end());
    got.insert(got.end(), c.begin(), c.end());
    ASSERT_TRUE(std::equal(got.begin(), got.end(), qemu.begin() + off)) << off << "+" << len;
  }
  std::vector<uint8_t> buf(16);
  iovec v{buf.data(), buf.size()};
  EXPECT_EQ(image->read((1 << 20) - 8, {&v, 1}), -EINVAL);
}

TEST_F(Qcow2ReadTest, BackingFilesRawAndQcow2) {
  std::string base = dir_.file("base.raw");
  std::string mid = dir_.file("mid.qcow2");
  std::string top = dir_.file("top.qcow2");
  must_run("qemu-img create -q -f raw " + base + " 4M");
  qemu_io(base, "raw", "-c 'write -P 0x01 0 4M'");
  // A relative backing name, resolved against the image's directory.
  must_run("cd " + dir_.file("") +
           " && qemu-img create -q -f qcow2 -b base.raw -F raw mid.qcow2 4M");
  qemu_io(mid, "qcow2", "-c 'write -P 0x02 64k 64k' -c 'write -P 0x02 1000k 10k'");
  must_run("qemu-img create -q -f qcow2 -o cluster_size=16k -b " + mid + " -F qcow2 " + top +
           " 6M");
  qemu_io(top, "qcow2", "-c 'write -P 0x03 96k 4k' -c 'write -P 0x03 3M 1M' -c 'write -z 0 8k'");
  auto image = Qcow2Image::open(top, [] {
    Qcow2Image::Options o;
    o.read_only = true;
    return o;
  }());
  ASSERT_NE(image->backing(), nullptr);
  EXPECT_STREQ(image->backing()->format(), "qcow2");
  auto* mid_image = dynamic_cast<Qcow2Image*>(image->backing());
  ASSERT_NE(mid_image, nullptr);
  ASSERT_NE(mid_image->backing(), nullptr);
  EXPECT_STREQ(mid_image->backing()->format(), "raw");
  std::vector<uint8_t> ours = our_contents(*image);
  expect_same(ours, qemu_contents(dir_, top));
  EXPECT_EQ(ours[0], 0);                  // zero clusters hide the backing file
  EXPECT_EQ(ours[10 << 10], 0x01);        // from the raw base
  EXPECT_EQ(ours[70 << 10], 0x02);        // from mid
  EXPECT_EQ(ours[97 << 10], 0x03);        // top
  EXPECT_EQ(ours[(5 << 20) + 10], 0x00);  // beyond the 4M backing file: zeroes
}

TEST_F(Qcow2ReadTest, BackingFormatProbedWhenNotRecorded) {
  std::string base = dir_.file("base.qcow2");
  std::string top = dir_.file("top.qcow2");
  must_run("qemu-img create -q -f qcow2 " + base + " 1M");
  qemu_io(base, "qcow2", "-c 'write -P 0x77 0 1M'");
  must_run("qemu-img create -q -f qcow2 -b " + base + " -F qcow2 " + top + " 1M");
  // Rename the backing format extension to an unknown type: the format must be probed.
  std::vector<uint8_t> data = testing::read_file(top);
  bool found = false;
  for (size_t i = 104; i + 4 <= 4096; i += 8) {
    if (load_be32(&data[i]) == kExtBackingFormat) {
      testing::patch_be32(top, i, 0x7a7a7a7a);
      found = true;
      break;
    }
  }
  ASSERT_TRUE(found);
  Qcow2Image::Options ro;
  ro.read_only = true;
  auto image = Qcow2Image::open(top, ro);
  EXPECT_TRUE(image->header().backing_format.empty());
  ASSERT_NE(image->backing(), nullptr);
  EXPECT_STREQ(image->backing()->format(), "qcow2");
  std::vector<uint8_t> ours = our_contents(*image);
  EXPECT_EQ(ours[1000], 0x77);
}

TEST_F(Qcow2ReadTest, DeepChain) {
  std::string prev = dir_.file("l0.qcow2");
  must_run("qemu-img create -q -f qcow2 -o cluster_size=4k " + prev + " 256k");
  qemu_io(prev, "qcow2", "-c 'write -P 0x10 0 256k'");
  for (int i = 1; i <= 12; ++i) {
    std::string next = dir_.file("l" + std::to_string(i) + ".qcow2");
    must_run("qemu-img create -q -f qcow2 -o cluster_size=4k -b " + prev + " -F qcow2 " + next +
             " 256k");
    qemu_io(next, "qcow2",
            "-c 'write -P " + std::to_string(0x10 + i) + " " + std::to_string(i * 8) + "k 4k'");
    prev = next;
  }
  std::vector<uint8_t> ours = testing::our_contents(prev);
  expect_same(ours, qemu_contents(dir_, prev));
  EXPECT_EQ(ours[12 * 8192], 0x10 + 12);
  EXPECT_EQ(ours[200 * 1024], 0x10);
}

TEST_F(Qcow2ReadTest, CompressedClustersZlibAndZstd) {
  std::string src = dir_.file("src.raw");
  // Compressible text, random bytes (stored compressed anyway only if smaller: QEMU keeps those
  // uncompressed), zeroes.
  std::vector<uint8_t> data(3 << 20);
  std::mt19937_64 rng(7);
  for (size_t i = 0; i < data.size(); ++i) {
    if (i < (1 << 20)) {
      data[i] = static_cast<uint8_t>("qcow2 compressed cluster "[i % 25] + (i / 4096) % 7);
    } else if (i < (2 << 20)) {
      data[i] = static_cast<uint8_t>(rng() % 4 == 0 ? rng() : i / 64);
    }
  }
  testing::write_file(src, data);
  for (const char* type : {"zlib", "zstd"}) {
    for (const char* cs : {"64k", "4k", "2M"}) {
      SCOPED_TRACE(std::string(type) + " " + cs);
      std::string img = dir_.file(std::string("c-") + type + ".qcow2");
      must_run(std::string("qemu-img convert -c -f raw -O qcow2 -o compression_type=") + type +
               ",cluster_size=" + cs + " " + src + " " + img);
      Qcow2Image::Options ro;
      ro.read_only = true;
      auto image = Qcow2Image::open(img, ro);
      EXPECT_EQ(image->header().compression_type, type[1] == 's' ? 1 : 0);
      if (std::string(cs) != "2M") {  // (2M clusters: the metadata alone takes 10 MiB)
        EXPECT_LT(testing::read_file(img).size(), 1536u << 10);  // really compressed
      }
      std::vector<uint8_t> ours = our_contents(*image);
      ASSERT_EQ(ours, data);
    }
  }
}

TEST_F(Qcow2ReadTest, ZeroClustersOverBacking) {
  std::string base = dir_.file("base.raw");
  std::string img = dir_.file("img.qcow2");
  must_run("qemu-img create -q -f raw " + base + " 2M");
  qemu_io(base, "raw", "-c 'write -P 0xee 0 2M'");
  must_run("qemu-img create -q -f qcow2 -b " + base + " -F raw " + img + " 2M");
  // Unmapped zeroes and zeroes over an allocated cluster (which stays allocated).
  qemu_io(img, "qcow2", "-c 'write -P 0x12 128k 128k' -c 'write -z 0 64k' -c 'write -z 128k 64k'");
  std::vector<uint8_t> ours = testing::our_contents(img);
  expect_same(ours, qemu_contents(dir_, img));
  EXPECT_EQ(ours[10], 0);
  EXPECT_EQ(ours[100 << 10], 0xee);
  EXPECT_EQ(ours[130 << 10], 0);
  EXPECT_EQ(ours[200 << 10], 0x12);
}

TEST_F(Qcow2ReadTest, RefcountWidthsAndSnapshots) {
  for (const char* bits : {"2", "8", "64"}) {
    std::string img = dir_.file("img.qcow2");
    must_run(std::string("qemu-img create -q -f qcow2 -o refcount_bits=") + bits + " " + img +
             " 4M");
    qemu_io(img, "qcow2", "-c 'write -P 0xab 0 64k' -c 'write -P 0x22 1M 1536k'");
    must_run("qemu-img snapshot -c snap1 " + img);
    qemu_io(img, "qcow2", "-c 'write -P 0x99 0 4k'");
    std::vector<uint8_t> ours = testing::our_contents(img);
    expect_same(ours, qemu_contents(dir_, img));
    EXPECT_EQ(ours[0], 0x99);
  }
}

}  // namespace
}  // namespace tandem::qcow2
