// Writing with our driver: the result must pass `qemu-img check` and read back, through QEMU,
// exactly as a plain byte array that received the same operations ("the shadow").
#include <gtest/gtest.h>

#include <random>

#include "block/qcow2/qcow2_image.h"
#include "block/qcow2/qemu_tools.h"

namespace tandem::qcow2 {
namespace {

using testing::must_run;
using testing::qemu_contents;
using testing::ScratchDir;

Qcow2Image::Options rw_options() {
  Qcow2Image::Options o;
  o.read_only = false;
  return o;
}

// Random requests applied to an image and to its shadow.
class Workload {
 public:
  Workload(Qcow2Image& image, std::vector<uint8_t>& shadow, uint64_t seed)
      : image_(image), shadow_(shadow), rng_(seed) {}

  void write(uint64_t off, uint64_t len) {
    std::vector<uint8_t> data = testing::random_bytes(rng_, len);
    // Split into up to three buffers.
    size_t a = len / 3, b = len / 2;
    iovec v[3] = {{data.data(), a}, {data.data() + a, b - a}, {data.data() + b, len - b}};
    ASSERT_EQ(image_.write(off, v), 0) << off << "+" << len;
    std::copy(data.begin(), data.end(), shadow_.begin() + off);
  }
  void write_zeroes(uint64_t off, uint64_t len, bool unmap) {
    ASSERT_EQ(image_.write_zeroes(off, len, unmap), 0) << off << "+" << len;
    std::fill(shadow_.begin() + off, shadow_.begin() + off + len, 0);
  }
  // What a discard does to the guest's view: whole clusters read as zeroes after, unless the
  // image is version 2 and has a backing file; partial clusters keep their data.
  void discard(uint64_t off, uint64_t len) {
    ASSERT_EQ(image_.discard(off, len), 0) << off << "+" << len;
    if (image_.header().version == 2 && image_.backing()) return;
    uint64_t cs = image_.header().cluster_size();
    uint64_t begin = (off + cs - 1) / cs * cs;
    uint64_t end = off + len == image_.size() ? off + len : (off + len) / cs * cs;
    if (begin < end) std::fill(shadow_.begin() + begin, shadow_.begin() + end, 0);
  }
  void check_read(uint64_t off, uint64_t len) {
    std::vector<uint8_t> buf(len);
    iovec v{buf.data(), len};
    ASSERT_EQ(image_.read(off, {&v, 1}), 0);
    ASSERT_TRUE(std::equal(buf.begin(), buf.end(), shadow_.begin() + off)) << off << "+" << len;
  }

  // `count` requests: mostly writes, some zeroing, discards, flushes and read-backs.
  void random(int count, uint64_t max_len, bool byte_granular) {
    uint64_t size = image_.size();
    for (int i = 0; i < count; ++i) {
      uint64_t len = 1 + rng_() % max_len;
      uint64_t off = rng_() % size;
      if (!byte_granular) {
        off &= ~uint64_t{511};
        len = (len + 511) & ~uint64_t{511};
      }
      len = std::min(len, size - off);
      int op = static_cast<int>(rng_() % 20);
      if (op < 12) {
        write(off, len);
      } else if (op < 15) {
        write_zeroes(off, len, rng_() % 2);
      } else if (op < 17) {
        discard(off, len);
      } else if (op < 18) {
        ASSERT_EQ(image_.flush(), 0);
      } else {
        check_read(off, len);
      }
      if (::testing::Test::HasFatalFailure()) return;
    }
  }

  std::mt19937_64& rng() { return rng_; }

 private:
  Qcow2Image& image_;
  std::vector<uint8_t>& shadow_;
  std::mt19937_64 rng_;
};

class Qcow2WriteTest : public ::testing::Test {
 protected:
  void SetUp() override { SKIP_WITHOUT_QEMU_IMG(); }

  // qemu-img check passes (no corruption, no leak) and QEMU reads the shadow.
  void expect_consistent(const std::string& img, const std::vector<uint8_t>& shadow) {
    testing::CommandResult check = testing::qemu_check(img);
    EXPECT_EQ(check.status, 0) << check.output;
    std::vector<uint8_t> qemu = qemu_contents(dir_, img);
    ASSERT_EQ(qemu.size(), shadow.size());
    for (size_t i = 0; i < qemu.size(); ++i) {
      if (qemu[i] != shadow[i]) {
        FAIL() << "QEMU reads byte " << i << " as " << int(qemu[i]) << ", expected "
               << int(shadow[i]);
      }
    }
  }

  ScratchDir dir_;
};

TEST_F(Qcow2WriteTest, RandomRequestsVersion3And2) {
  struct Case {
    const char* options;
    uint64_t max_len;
    uint64_t size;
  };
  for (const Case& c :
       {Case{"compat=1.1", 300 << 10, 12 << 20}, Case{"compat=0.10", 300 << 10, 12 << 20},
        Case{"compat=1.1,cluster_size=4k", 40 << 10, (12 << 20) + 1536},
        Case{"compat=0.10,cluster_size=2M", 3 << 20, (11 << 20) + 512}}) {
    SCOPED_TRACE(c.options);
    std::string img = dir_.file("img.qcow2");
    must_run("qemu-img create -q -f qcow2 -o " + std::string(c.options) + " " + img + " " +
             std::to_string(c.size));
    std::vector<uint8_t> shadow(c.size);
    {
      auto image = Qcow2Image::open(img, rw_options());
      ASSERT_EQ(image->size(), c.size);
      Workload w(*image, shadow, 42);
      w.random(100, c.max_len, true);
      if (HasFatalFailure()) return;
      w.check_read(0, c.size);
    }
    expect_consistent(img, shadow);
    // And our driver reads back what it wrote after reopening.
    EXPECT_EQ(testing::our_contents(img), shadow);
  }
}

TEST_F(Qcow2WriteTest, SmallClustersGrowTheRefcountTable) {
  // 512-byte clusters with 64-bit refcounts: a refcount block covers 64 clusters (32 KiB) and the
  // initial one-cluster table 64 blocks (2 MiB), so writing 6 MiB must grow the table.
  std::string img = dir_.file("img.qcow2");
  must_run("qemu-img create -q -f qcow2 -o cluster_size=512,refcount_bits=64 " + img + " 8M");
  std::vector<uint8_t> shadow(8 << 20);
  uint64_t old_table;
  {
    auto image = Qcow2Image::open(img, rw_options());
    old_table = image->header().refcount_table_offset;
    Workload w(*image, shadow, 3);
    for (uint64_t off = 0; off < (6 << 20); off += 96 << 10) w.write(off, 80 << 10);
    w.random(100, 20 << 10, false);
    if (HasFatalFailure()) return;
  }
  expect_consistent(img, shadow);
  Qcow2Image::Options ro;
  ro.read_only = true;
  EXPECT_NE(Qcow2Image::open(img, ro)->header().refcount_table_offset, old_table);
}

TEST_F(Qcow2WriteTest, EveryRefcountWidth) {
  for (const char* bits : {"1", "2", "4", "8", "16", "32", "64"}) {
    SCOPED_TRACE(bits);
    std::string img = dir_.file("img.qcow2");
    must_run(std::string("qemu-img create -q -f qcow2 -o cluster_size=4k,refcount_bits=") + bits +
             " " + img + " 4M");
    std::vector<uint8_t> shadow(4 << 20);
    {
      auto image = Qcow2Image::open(img, rw_options());
      Workload w(*image, shadow, 11);
      w.random(60, 64 << 10, true);
      if (HasFatalFailure()) return;
    }
    expect_consistent(img, shadow);
  }
}

TEST_F(Qcow2WriteTest, PartialClustersOverBackingFiles) {
  std::string base_raw = dir_.file("base.raw");
  std::string base_qcow2 = dir_.file("base.qcow2");
  must_run("qemu-img create -q -f raw " + base_raw + " 6M");
  must_run("qemu-io -f raw -c 'write -P 0xb1 0 6M' " + base_raw);
  must_run("qemu-img create -q -f qcow2 -o cluster_size=16k " + base_qcow2 + " 6M");
  must_run("qemu-io -f qcow2 -c 'write -P 0xb2 0 2M' -c 'write -P 0xb3 3M 1M' " + base_qcow2);
  for (const char* compat : {"1.1", "0.10"}) {
    for (const auto& [base, fmt] : {std::pair{base_raw, "raw"}, std::pair{base_qcow2, "qcow2"}}) {
      SCOPED_TRACE(std::string(compat) + " over " + fmt);
      std::string img = dir_.file("top.qcow2");
      // Bigger than the backing file: beyond its end the guest reads zeroes.
      must_run(std::string("qemu-img create -q -f qcow2 -o compat=") + compat + " -b " + base +
               " -F " + fmt + " " + img + " 8M");
      std::vector<uint8_t> shadow = qemu_contents(dir_, img);
      {
        auto image = Qcow2Image::open(img, rw_options());
        Workload w(*image, shadow, 5);
        // Small writes inside clusters: each allocation copies the rest from below.
        for (int i = 0; i < 40; ++i) {
          uint64_t off = w.rng()() % (8 << 20);
          w.write(off, std::min<uint64_t>(1 + w.rng()() % 3000, (8 << 20) - off));
        }
        w.random(80, 100 << 10, true);
        if (HasFatalFailure()) return;
      }
      expect_consistent(img, shadow);
    }
  }
}

TEST_F(Qcow2WriteTest, OverCompressedClusters) {
  std::string src = dir_.file("src.raw");
  std::vector<uint8_t> data(4 << 20);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>((i / 1000) * 7);
  testing::write_file(src, data);
  for (const char* type : {"zlib", "zstd"}) {
    SCOPED_TRACE(type);
    std::string img = dir_.file("img.qcow2");
    must_run(std::string("qemu-img convert -c -f raw -O qcow2 -o compression_type=") + type + " " +
             src + " " + img);
    std::vector<uint8_t> shadow = data;
    {
      auto image = Qcow2Image::open(img, rw_options());
      Workload w(*image, shadow, 9);
      for (int i = 0; i < 30; ++i) w.write(w.rng()() % (4 << 20) & ~4095ull, 1 + w.rng()() % 5000);
      w.random(60, 200 << 10, true);
      if (HasFatalFailure()) return;
    }
    expect_consistent(img, shadow);
  }
}

TEST_F(Qcow2WriteTest, SnapshotsStayIntact) {
  std::string img = dir_.file("img.qcow2");
  must_run("qemu-img create -q -f qcow2 -o cluster_size=4k " + img + " 4M");
  must_run("qemu-io -f qcow2 -c 'write -P 0x5e 0 3M' " + img);
  must_run("qemu-img snapshot -c before " + img);
  std::vector<uint8_t> before = qemu_contents(dir_, img);
  std::vector<uint8_t> shadow = before;
  {
    auto image = Qcow2Image::open(img, rw_options());
    Workload w(*image, shadow, 13);
    w.random(120, 64 << 10, true);
    if (HasFatalFailure()) return;
  }
  expect_consistent(img, shadow);
  EXPECT_EQ(qemu_contents(dir_, img, "-l snapshot.name=before"), before);
}

TEST_F(Qcow2WriteTest, ZeroesAndDiscardsOverBacking) {
  std::string base = dir_.file("base.raw");
  must_run("qemu-img create -q -f raw " + base + " 2M");
  must_run("qemu-io -f raw -c 'write -P 0xcc 0 2M' " + base);
  for (const char* compat : {"1.1", "0.10"}) {
    SCOPED_TRACE(compat);
    std::string img = dir_.file("img.qcow2");
    must_run(std::string("qemu-img create -q -f qcow2 -o cluster_size=4k,compat=") + compat +
             " -b " + base + " -F raw " + img + " 2M");
    std::vector<uint8_t> shadow = qemu_contents(dir_, img);
    {
      auto image = Qcow2Image::open(img, rw_options());
      Workload w(*image, shadow, 17);
      w.write(0, 64 << 10);
      w.write_zeroes(4096, 8192, true);           // whole clusters, allocated
      w.write_zeroes(20000, 100, false);          // inside a cluster
      w.write_zeroes(100 << 10, 50 << 10, true);  // unallocated: the backing must not show
      w.write_zeroes(200 << 10, 64 << 10, false);
      w.discard(32 << 10, 16 << 10);
      w.discard(300 << 10, 10000);
      w.check_read(0, 2 << 20);
      if (HasFatalFailure()) return;
    }
    expect_consistent(img, shadow);
  }
}

TEST_F(Qcow2WriteTest, WriteZeroesKeepsOrFreesClusters) {
  std::string img = dir_.file("img.qcow2");
  must_run("qemu-img create -q -f qcow2 " + img + " 4M");
  std::vector<uint8_t> shadow(4 << 20);
  {
    auto image = Qcow2Image::open(img, rw_options());
    Workload w(*image, shadow, 19);
    w.write(0, 4 << 20);
    w.write_zeroes(0, 1 << 20, false);  // stays allocated (zero flag + offset)
    w.write_zeroes(1 << 20, 1 << 20, true);
    w.discard(2 << 20, 1 << 20);
    w.write(100, 1000);  // into a zeroed-but-allocated cluster
    if (HasFatalFailure()) return;
  }
  expect_consistent(img, shadow);
  std::string map = must_run("qemu-img map --output=json " + img);
  // Cluster 0 was written again (a new cluster); the rest of the first MiB keeps its clusters
  // (zero flag and an offset); the second MiB has zero clusters without one; the third is
  // unallocated again.
  for (const char* extent :
       {"\"start\": 65536, \"length\": 983040, \"depth\": 0, \"present\": true, \"zero\": true, "
        "\"data\": false, \"offset\"",
        "\"start\": 1048576, \"length\": 1048576, \"depth\": 0, \"present\": true, \"zero\": "
        "true, \"data\": false}",
        "\"start\": 2097152, \"length\": 1048576, \"depth\": 0, \"present\": false, \"zero\": "
        "true, \"data\": false}"}) {
    EXPECT_NE(map.find(extent), std::string::npos) << extent << "\n" << map;
  }
}

TEST_F(Qcow2WriteTest, DirectIoAndWritethrough) {
  for (CacheMode cache :
       {CacheMode::kNone, CacheMode::kWritethrough, CacheMode::kUnsafe, CacheMode::kDirectsync}) {
    SCOPED_TRACE(to_string(cache));
    std::string img = dir_.file("img.qcow2");
    must_run("qemu-img create -q -f qcow2 -o cluster_size=512 " + img + " 2M");
    std::vector<uint8_t> shadow(2 << 20);
    {
      Qcow2Image::Options o = rw_options();
      o.cache = cache;
      std::unique_ptr<Qcow2Image> image;
      try {
        image = Qcow2Image::open(img, o);
      } catch (const Error& e) {
        GTEST_SKIP() << e.what();  // a file system without O_DIRECT
      }
      Workload w(*image, shadow, 23);
      w.random(80, 20 << 10, true);
      if (HasFatalFailure()) return;
    }
    expect_consistent(img, shadow);
  }
}

}  // namespace
}  // namespace tandem::qcow2
