// Broken and unsupported images: each gives its clear error (an Error at open, -EIO for a
// request that meets bad metadata later), never a crash, a hang or an access out of bounds.
#include <gtest/gtest.h>
#include <unistd.h>

#include <random>

#include "block/qcow2/qcow2_image.h"
#include "block/qcow2/qemu_tools.h"

namespace tandem::qcow2 {
namespace {

using testing::must_run;
using testing::patch_be32;
using testing::patch_be64;
using testing::ScratchDir;

std::string open_error(const std::string& path, bool read_only = false) {
  Qcow2Image::Options o;
  o.read_only = read_only;
  try {
    Qcow2Image::open(path, o);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

int read_at(Qcow2Image& image, uint64_t offset, uint64_t length = 4096) {
  std::vector<uint8_t> buf(length);
  iovec v{buf.data(), length};
  return image.read(offset, {&v, 1});
}

int write_at(Qcow2Image& image, uint64_t offset, uint64_t length = 4096) {
  std::vector<uint8_t> buf(length, 0x42);
  iovec v{buf.data(), length};
  return image.write(offset, {&v, 1});
}

#define EXPECT_HAS(haystack, needle) \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << (haystack)

class Qcow2BrokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_QEMU_IMG();
    img_ = dir_.file("img.qcow2");
    // 64 KiB clusters: header, refcount table, refcount block, L1 table, then L2 tables and data.
    must_run("qemu-img create -q -f qcow2 " + img_ + " 4M");
    must_run("qemu-io -f qcow2 -c 'write -P 0x61 0 128k' -c 'write -P 0x62 3M 64k' " + img_);
  }
  uint64_t l1_offset() { return testing::file_be64(img_, 40); }
  uint64_t l2_offset() { return testing::file_be64(img_, l1_offset()) & kOffsetMask; }

  ScratchDir dir_;
  std::string img_;
};

TEST_F(Qcow2BrokenTest, TruncatedFiles) {
  std::vector<uint8_t> good = testing::read_file(img_);
  EXPECT_EQ(open_error(img_), "");
  for (uint64_t size : {0ul, 3ul, 50ul, 100ul, 4096ul, 0x10000ul, 0x28000ul, 0x30008ul, 0x40000ul,
                        0x50000ul, static_cast<uint64_t>(good.size() - 4096)}) {
    SCOPED_TRACE(size);
    testing::write_file(img_, std::vector<uint8_t>(good.begin(), good.begin() + size));
    Qcow2Image::Options o;
    o.read_only = true;
    std::unique_ptr<Qcow2Image> image;
    try {
      image = Qcow2Image::open(img_, o);
    } catch (const Error& e) {
      EXPECT_HAS(e.what(), img_);
      continue;
    }
    // Opened: the tables survived, data beyond the end reads as an error or as zeroes.
    for (uint64_t off = 0; off < image->size(); off += 64 << 10) {
      int r = read_at(*image, off);
      EXPECT_TRUE(r == 0 || r == -EIO) << r;
    }
  }
}

TEST_F(Qcow2BrokenTest, HeaderFields) {
  std::vector<uint8_t> good = testing::read_file(img_);
  struct Case {
    uint64_t offset;
    int width;
    uint64_t value;
    const char* message;
  };
  for (const Case& c : {
           Case{20, 4, 30, "cluster_bits 30 is outside 9..21"},
           Case{20, 4, 8, "cluster_bits 8 is outside 9..21"},
           Case{4, 4, 4, "has version 4, which is not supported"},
           Case{4, 4, 1, "has version 1, which is not supported"},
           Case{0, 4, 0x12345678, "is not a qcow2 image"},
           Case{40, 8, 0x7ff0000, "the L1 table at offset 0x7ff0000 (8 bytes) lies outside"},
           Case{40, 8, 0x30200, "the L1 table offset 0x30200 is not aligned"},
           Case{40, 8, 0, "the L1 table at offset 0x0 overlaps the header"},
           Case{36, 4, 0, "the L1 table (0 entries) is too small for the virtual size 4194304"},
           Case{48, 8, 0x10000000,
                "the refcount table at offset 0x10000000 (65536 bytes) lies "
                "outside the file"},
           Case{56, 4, 0, "the refcount table is empty"},
           Case{56, 4, 1000, "the refcount table (1000 clusters) is larger than 8 MiB"},
           Case{96, 4, 7, "refcount_order 7 is above 6"},
           Case{100, 4, 106, "header_length 106"},
           Case{100, 4, 96, "header_length 96"},
           Case{32, 4, 1, "AES encryption"},
           Case{72, 8, 1ull << 10, "unknown incompatible feature bit 10"},
           Case{72, 8, 1ull << 4, "extended L2 entries"},
           Case{72, 8, 1ull << 2, "external data file"},
           Case{72, 8, 1ull << 3, "the compression type bit is set but compression_type is zlib"},
           Case{60, 4, 1, "the snapshot table at offset 0x0 overlaps the header"},
           Case{8, 8, 0xfff0, "backing file name length 0"},
       }) {
    SCOPED_TRACE(c.message);
    testing::write_file(img_, good);
    if (c.width == 8) {
      patch_be64(img_, c.offset, c.value);
    } else {
      patch_be32(img_, c.offset, static_cast<uint32_t>(c.value));
    }
    std::string err = open_error(img_, true);
    EXPECT_HAS(err, c.message);
    EXPECT_HAS(err, img_);
  }
}

TEST_F(Qcow2BrokenTest, FeatureNamesFromTheImage) {
  // QEMU's feature name table names the known bits; a name is shown for bits we refuse.
  patch_be64(img_, 72, 1ull << 4);
  EXPECT_HAS(open_error(img_), "extended L2 entries");
  std::string ext = dir_.file("ext.qcow2");
  must_run("qemu-img create -q -f qcow2 -o extended_l2=on " + ext + " 1M");
  EXPECT_HAS(open_error(ext), "uses features Tandem does not support: extended L2 entries");
}

TEST_F(Qcow2BrokenTest, UnsupportedFeaturesFromQemu) {
  std::string data_file = dir_.file("data.qcow2");
  must_run("qemu-img create -q -f qcow2 -o data_file=" + dir_.file("data.raw") + " " + data_file +
           " 1M");
  EXPECT_HAS(open_error(data_file), "external data file");
  patch_be32(img_, 32, 2);  // crypt_method LUKS (creating a real one takes seconds of PBKDF)
  EXPECT_HAS(open_error(img_), "LUKS encryption");
}

TEST_F(Qcow2BrokenTest, DirtyAndCorruptBits) {
  patch_be64(img_, 72, 1);  // dirty
  EXPECT_HAS(open_error(img_), "is marked dirty");
  EXPECT_HAS(open_error(img_), "qemu-img check -r all");
  EXPECT_EQ(open_error(img_, true), "");
  patch_be64(img_, 72, 2);  // corrupt
  EXPECT_HAS(open_error(img_), "is marked corrupt");
  EXPECT_EQ(open_error(img_, true), "");
}

TEST_F(Qcow2BrokenTest, BadL1Entries) {
  std::vector<uint8_t> good = testing::read_file(img_);
  uint64_t l1 = l1_offset();
  for (auto [value, message] :
       {std::pair{0x8000000000000000ull | 0x7000000, "outside the file"},
        std::pair{0x8000000000000000ull | 0x40200, "not aligned to a cluster"},
        std::pair{0x8000000000000000ull, ""},  // offset 0: unallocated
        std::pair{0x8000000000000000ull | 0x200, "not aligned"},
        std::pair{0x0100000000040000ull, "reserved bits"}}) {
    SCOPED_TRACE(message);
    testing::write_file(img_, good);
    patch_be64(img_, l1, value);
    if (*message) {
      EXPECT_HAS(open_error(img_, true), message);
    } else {
      EXPECT_EQ(open_error(img_, true), "");
    }
  }
}

TEST_F(Qcow2BrokenTest, BadL2EntriesFailRequestsWithEio) {
  std::vector<uint8_t> good = testing::read_file(img_);
  uint64_t l2 = l2_offset();
  ASSERT_NE(l2, 0u);
  for (uint64_t value : {
           0x8000000000000000ull,                        // COPIED, offset 0: into the header
           0x8000000000000000ull | 0x8000,               // inside the header cluster, unaligned
           0x8000000000000000ull | 0x10200,              // unaligned
           0x8000000000000000ull | 0x70000000,           // outside the file
           0x4000000000000000ull | 0x100,                // compressed, inside the header
           0x4000000000000000ull | 0x3fffffffffffffull,  // compressed, outside the file
       }) {
    SCOPED_TRACE(value);
    testing::write_file(img_, good);
    patch_be64(img_, l2, value);
    auto image = Qcow2Image::open(img_, Qcow2Image::Options{});
    EXPECT_EQ(read_at(*image, 0), -EIO);
    EXPECT_EQ(read_at(*image, 64 << 10), 0);  // other clusters still read
    EXPECT_EQ(write_at(*image, 4096), -EIO);  // but the image is known corrupt: no more writes
    EXPECT_EQ(write_at(*image, 2 << 20), -EIO);
    EXPECT_EQ(image->discard(0, 1 << 20), -EIO);
  }
}

TEST_F(Qcow2BrokenTest, DataClusterOverMetadataIsNotWritten) {
  // Cluster 1 claims to live where the L1 table is: reading it is harmless, writing must not
  // touch the table.
  uint64_t l1 = l1_offset();
  patch_be64(img_, l2_offset() + 8, 0x8000000000000000ull | l1);
  std::vector<uint8_t> before = testing::read_file(img_);
  {
    auto image = Qcow2Image::open(img_, Qcow2Image::Options{});
    EXPECT_EQ(read_at(*image, 64 << 10), 0);
    EXPECT_EQ(write_at(*image, 64 << 10), -EIO);
  }
  EXPECT_EQ(testing::read_file(img_), before);
}

TEST_F(Qcow2BrokenTest, RefcountTableEntries) {
  uint64_t rt = testing::file_be64(img_, 48);
  std::vector<uint8_t> good = testing::read_file(img_);
  patch_be64(img_, rt, 0x20100);
  EXPECT_HAS(open_error(img_), "refcount table entry 0 (0x20100) is not aligned");
  testing::write_file(img_, good);
  patch_be64(img_, rt, 0x90000000);
  EXPECT_HAS(open_error(img_), "refcount table entry 0 points to a refcount block at 0x90000000");
  testing::write_file(img_, good);
  patch_be64(img_, rt, 0);  // the block covering everything vanishes: freeing finds no count
  {
    auto image = Qcow2Image::open(img_, Qcow2Image::Options{});
    EXPECT_EQ(read_at(*image, 0), 0);
    EXPECT_EQ(write_at(*image, 4096), 0);  // in place: no refcount needed
    // Allocation works (a new block is made), freeing finds no refcount: the image is corrupt.
    EXPECT_EQ(image->discard(0, 128 << 10), 0);
    EXPECT_EQ(image->flush(), 0);
    EXPECT_EQ(write_at(*image, 1 << 20), -EIO);
  }
}

TEST_F(Qcow2BrokenTest, GarbageCompressedData) {
  std::string src = dir_.file("src.raw");
  testing::write_file(src, std::vector<uint8_t>(1 << 20, 0x33));
  std::string img = dir_.file("c.qcow2");
  for (const char* type : {"zlib", "zstd"}) {
    must_run(std::string("qemu-img convert -c -f raw -O qcow2 -o compression_type=") + type + " " +
             src + " " + img);
    uint64_t l1 = testing::file_be64(img, 40);
    uint64_t l2 = testing::file_be64(img, l1) & kOffsetMask;
    uint64_t entry = testing::file_be64(img, l2);
    ASSERT_TRUE(entry & kOflagCompressed);
    CompressedExtent c = decode_compressed(entry, 16);
    testing::patch_file(img, c.offset, std::vector<uint8_t>(16, 0xff));
    Qcow2Image::Options o;
    o.read_only = true;
    auto image = Qcow2Image::open(img, o);
    EXPECT_EQ(read_at(*image, 0), -EIO) << type;
  }
}

TEST_F(Qcow2BrokenTest, BackingFileLoopsAndMissingFiles) {
  std::string a = dir_.file("a.qcow2");
  std::string b = dir_.file("b.qcow2");
  must_run("qemu-img create -q -f qcow2 " + a + " 1M");
  must_run("qemu-img create -q -f qcow2 -b " + a + " -F qcow2 " + b + " 1M");
  must_run("qemu-img rebase -u -b " + b + " -F qcow2 " + a);
  EXPECT_EQ(open_error(a), "backing file loop: " + a + " -> " + b + " -> " + a);
  EXPECT_EQ(open_error(b, true), "backing file loop: " + b + " -> " + a + " -> " + b);
  must_run("qemu-img rebase -u -b " + a + " -F qcow2 " + a);
  EXPECT_EQ(open_error(a), "backing file loop: " + a + " -> " + a);
  must_run("qemu-img rebase -u -b " + dir_.file("gone.raw") + " -F raw " + a);
  EXPECT_HAS(open_error(a), "could not open backing file '" + dir_.file("gone.raw") + "' of '" + a +
                                "': No such file or directory");
  must_run("qemu-img rebase -u -b " + b + " -F vmdk " + a);
  EXPECT_HAS(open_error(a), "has format 'vmdk', which is not supported");
}

TEST_F(Qcow2BrokenTest, RandomMetadataDamageNeverCrashes) {
  // Small clusters so that the header, tables and data sit close together.
  std::string base = dir_.file("base.raw");
  must_run("qemu-img create -q -f raw " + base + " 256k");
  must_run("qemu-io -f raw -c 'write -P 0x3c 0 256k' " + base);
  must_run("qemu-img create -q -f qcow2 -o cluster_size=512 -b " + base + " -F raw " + img_ +
           " 256k");
  must_run("qemu-io -f qcow2 -c 'write -P 0x61 0 20k' -c 'write -z 100k 8k' " + img_);
  std::vector<uint8_t> good = testing::read_file(img_);
  std::mt19937_64 rng(99);
  int opened = 0;
  for (int i = 0; i < 300; ++i) {
    std::vector<uint8_t> bad = good;
    for (int k = 0; k < 1 + static_cast<int>(rng() % 4); ++k) {
      size_t at = rng() % std::min<size_t>(bad.size(), 16384);  // the metadata lives up front
      bad[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
    }
    testing::write_file(img_, bad);
    std::unique_ptr<Qcow2Image> image;
    try {
      image = Qcow2Image::open(img_, Qcow2Image::Options{});
    } catch (const Error&) {
      continue;
    }
    ++opened;
    for (int k = 0; k < 8; ++k) {
      uint64_t off = rng() % image->size();
      uint64_t len = std::min<uint64_t>(1 + rng() % 20000, image->size() - off);
      int r = (k % 2) ? write_at(*image, off, len) : read_at(*image, off, len);
      EXPECT_TRUE(r == 0 || r == -EIO || r == -ENOSPC) << r;
    }
    int r = image->write_zeroes(0, 64 << 10, true);
    EXPECT_TRUE(r == 0 || r == -EIO) << r;
    r = image->flush();
    EXPECT_TRUE(r == 0 || r == -EIO) << r;
  }
  EXPECT_GT(opened, 50);
}

}  // namespace
}  // namespace tandem::qcow2
