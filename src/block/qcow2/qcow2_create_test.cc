// create_image: new images must satisfy `qemu-img check`, show QEMU the options they were made
// with, match the header QEMU itself writes, and take writes through our driver and QEMU's.
#include "block/qcow2/qcow2_create.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "block/qcow2/qcow2_image.h"
#include "block/qcow2/qemu_tools.h"

namespace tandem::qcow2 {
namespace {

using testing::must_run;
using testing::qemu_check;
using testing::read_file;
using testing::ScratchDir;

nlohmann::json qemu_info(const std::string& path) {
  return nlohmann::json::parse(must_run("qemu-img info -U --output=json '" + path + "'"));
}

struct Case {
  uint64_t size;
  uint64_t cluster_size;
  uint32_t version;
  uint8_t compression;
  uint32_t refcount_bits;
  bool lazy;
};

TEST(Qcow2Create, QemuAcceptsEveryVariant) {
  SKIP_WITHOUT_QEMU_IMG();
  ScratchDir dir;
  const Case cases[] = {
      {1ull << 30, 65536, 3, kCompressionZlib, 16, false},
      {1ull << 30, 65536, 2, kCompressionZlib, 16, false},
      {100ull << 20, 4096, 3, kCompressionZstd, 8, true},
      {1000, 512, 3, kCompressionZlib, 1, false},  // rounded up to 1024
      {0, 65536, 3, kCompressionZlib, 64, false},
      {3ull << 40, 2 << 20, 3, kCompressionZlib, 2, false},
      // 512-byte clusters and a 64 GiB disk: a 1 MiB L1 table and several refcount blocks.
      {64ull << 30, 512, 3, kCompressionZlib, 16, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(fmt::format("size {} cluster {} v{} refcount_bits {}", c.size, c.cluster_size,
                             c.version, c.refcount_bits));
    std::string path = dir.file("t.qcow2");
    CreateOptions o;
    o.size = c.size;
    o.cluster_size = c.cluster_size;
    o.version = c.version;
    o.compression_type = c.compression;
    o.refcount_bits = c.refcount_bits;
    o.lazy_refcounts = c.lazy;
    create_image(path, o);
    auto check = qemu_check(path);
    EXPECT_EQ(check.status, 0) << check.output;
    EXPECT_NE(check.output.find("No errors were found"), std::string::npos) << check.output;
    nlohmann::json info = qemu_info(path);
    EXPECT_EQ(info["virtual-size"], (c.size + 511) / 512 * 512);
    EXPECT_EQ(info["cluster-size"], c.cluster_size);
    const nlohmann::json& data = info["format-specific"]["data"];
    EXPECT_EQ(data["compat"], c.version == 3 ? "1.1" : "0.10");
    EXPECT_EQ(data["compression-type"], c.compression == kCompressionZstd ? "zstd" : "zlib");
    EXPECT_EQ(data["refcount-bits"], c.refcount_bits);
    if (c.version == 3) {
      EXPECT_EQ(data["lazy-refcounts"], c.lazy);
    }

    // QEMU can write to it, and the result is still consistent.
    if (c.size >= (1 << 20)) {
      must_run("qemu-io -c 'write -P 0x5a 0 300k' -c 'write -P 0x11 " + std::to_string(c.size / 2) +
               " 64k' '" + path + "'");
      check = qemu_check(path);
      EXPECT_EQ(check.status, 0) << check.output;
    }
  }
}

TEST(Qcow2Create, HeaderMatchesQemuImgCreate) {
  SKIP_WITHOUT_QEMU_IMG();
  ScratchDir dir;
  struct Variant {
    std::string qemu_options;
    CreateOptions ours;
  };
  CreateOptions base;
  base.size = 1ull << 30;
  std::vector<Variant> variants;
  variants.push_back({"", base});
  CreateOptions v2 = base;
  v2.version = 2;
  variants.push_back({"-o compat=0.10", v2});
  CreateOptions backed = base;
  backed.backing_file = "base.raw";
  backed.backing_format = "raw";
  variants.push_back({"-b base.raw -F raw", backed});
  CreateOptions zstd = base;
  zstd.compression_type = kCompressionZstd;
  zstd.cluster_size = 4096;
  variants.push_back({"-o compression_type=zstd,cluster_size=4096", zstd});

  testing::write_file(dir.file("base.raw"), std::vector<uint8_t>(1 << 20, 7));
  for (const Variant& v : variants) {
    SCOPED_TRACE(v.qemu_options);
    std::string theirs = dir.file("theirs.qcow2"), ours = dir.file("ours.qcow2");
    must_run("cd '" + dir.file("") + "' && qemu-img create -q -f qcow2 " + v.qemu_options +
             " theirs.qcow2 1G");
    create_image(ours, v.ours);
    std::vector<uint8_t> a = read_file(theirs), b = read_file(ours);
    EXPECT_EQ(a.size(), b.size());
    // The whole header cluster: fields, extensions and backing file name.
    size_t n = std::min<size_t>(v.ours.cluster_size, std::min(a.size(), b.size()));
    EXPECT_TRUE(std::equal(a.begin(), a.begin() + static_cast<ptrdiff_t>(n), b.begin()));
    EXPECT_EQ(a, b);
  }
}

TEST(Qcow2Create, OurDriverWritesIntoIt) {
  SKIP_WITHOUT_QEMU_IMG();
  ScratchDir dir;
  std::string path = dir.file("w.qcow2");
  CreateOptions o;
  o.size = 8 << 20;
  o.cluster_size = 4096;
  create_image(path, o);
  std::vector<uint8_t> expect(o.size, 0);
  {
    Qcow2Image::Options opts;
    auto image = Qcow2Image::open(path, opts);
    std::mt19937_64 rng(3);
    for (uint64_t off : {0ull, 12345ull, 5000000ull}) {
      std::vector<uint8_t> data = testing::random_bytes(rng, 70000);
      iovec v{data.data(), data.size()};
      ASSERT_EQ(image->write(off, {&v, 1}), 0);
      std::copy(data.begin(), data.end(), expect.begin() + static_cast<ptrdiff_t>(off));
    }
    ASSERT_EQ(image->flush(), 0);
  }
  EXPECT_EQ(qemu_check(path).status, 0) << qemu_check(path).output;
  EXPECT_EQ(testing::qemu_contents(dir, path), expect);
}

TEST(Qcow2Create, RefusesBadOptions) {
  ScratchDir dir;
  auto refused = [&](CreateOptions o, const std::string& words) {
    try {
      create_image(dir.file("bad.qcow2"), o);
      ADD_FAILURE() << "accepted; expected: " << words;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
  };
  CreateOptions o;
  o.size = 1 << 20;
  CreateOptions c = o;
  c.cluster_size = 1000;
  refused(c, "Cluster size must be a power of two");
  c.cluster_size = 4 << 20;
  refused(c, "Cluster size must be a power of two");
  c = o;
  c.refcount_bits = 3;
  refused(c, "Refcount width");
  c = o;
  c.version = 2;
  c.refcount_bits = 8;
  refused(c, "compatibility level 1.1");
  c = o;
  c.version = 2;
  c.lazy_refcounts = true;
  refused(c, "Lazy refcounts");
  c = o;
  c.version = 2;
  c.compression_type = kCompressionZstd;
  refused(c, "Compression type");
  c = o;
  c.size = 1ull << 62;
  c.cluster_size = 512;
  refused(c, "too large");
  c = o;
  c.backing_file = std::string(2000, 'x');
  refused(c, "too long");
}

}  // namespace
}  // namespace tandem::qcow2
