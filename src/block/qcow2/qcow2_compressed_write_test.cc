// Compressed clusters written by our driver: QEMU must read the same bytes back, find the image
// consistent, and the image must be smaller than the data.
#include <gtest/gtest.h>

#include <random>

#include "block/qcow2/compression.h"
#include "block/qcow2/qcow2_create.h"
#include "block/qcow2/qcow2_image.h"
#include "block/qcow2/qemu_tools.h"

namespace tandem::qcow2 {
namespace {

using testing::qemu_check;
using testing::qemu_contents;
using testing::ScratchDir;

// Text-like data: compresses, but not to nothing.
std::vector<uint8_t> compressible(std::mt19937_64& rng, size_t n) {
  static const char* words[] = {"qcow2 ", "cluster ", "refcount ", "table ", "image ", "data "};
  std::vector<uint8_t> out;
  while (out.size() < n) {
    const char* w = words[rng() % 6];
    out.insert(out.end(), w, w + strlen(w));
    if (rng() % 7 == 0) out.push_back(static_cast<uint8_t>('0' + rng() % 10));
  }
  out.resize(n);
  return out;
}

void write_compressed_image(const std::string& path, uint64_t cluster_size, uint8_t type,
                            std::vector<uint8_t>& expect) {
  CreateOptions o;
  o.size = 4 << 20;
  o.cluster_size = cluster_size;
  o.compression_type = type;
  create_image(path, o);
  expect.assign(o.size, 0);
  Qcow2Image::Options opts;
  auto image = Qcow2Image::open(path, opts);
  std::mt19937_64 rng(cluster_size + type);
  uint64_t cs = cluster_size;
  for (uint64_t off = 0; off < o.size; off += cs) {
    std::vector<uint8_t> data;
    switch (rng() % 5) {
      case 0:
        continue;  // left unallocated
      case 1:
        data = testing::random_bytes(rng, cs);  // does not compress: written plainly
        break;
      default:
        data = compressible(rng, cs);
        break;
    }
    ASSERT_EQ(image->write_compressed(off, data), 0) << off;
    std::copy(data.begin(), data.end(), expect.begin() + static_cast<ptrdiff_t>(off));
  }
  // Overwriting compressed clusters: plainly and compressed again.
  std::vector<uint8_t> again = compressible(rng, cs);
  ASSERT_EQ(image->write_compressed(2 * cs, again), 0);
  std::copy(again.begin(), again.end(), expect.begin() + static_cast<ptrdiff_t>(2 * cs));
  std::vector<uint8_t> plain(100, 0xee);
  iovec v{plain.data(), plain.size()};
  ASSERT_EQ(image->write(3 * cs + 10, {&v, 1}), 0);
  std::copy(plain.begin(), plain.end(), expect.begin() + static_cast<ptrdiff_t>(3 * cs + 10));
  // Our own reads see the data too.
  std::vector<uint8_t> back(o.size);
  iovec b{back.data(), back.size()};
  ASSERT_EQ(image->read(0, {&b, 1}), 0);
  EXPECT_EQ(back, expect);
  ASSERT_EQ(image->flush(), 0);
}

class CompressedWrite : public ::testing::TestWithParam<std::tuple<uint64_t, uint8_t>> {};

TEST_P(CompressedWrite, QemuReadsTheSameBytes) {
  SKIP_WITHOUT_QEMU_IMG();
  auto [cluster_size, type] = GetParam();
  ScratchDir dir;
  std::string path = dir.file("c.qcow2");
  std::vector<uint8_t> expect;
  write_compressed_image(path, cluster_size, type, expect);
  auto check = qemu_check(path);
  EXPECT_EQ(check.status, 0) << check.output;
  EXPECT_NE(check.output.find("compressed clusters"), std::string::npos);
  EXPECT_EQ(qemu_contents(dir, path), expect);
  // Smaller than the allocated data it holds (about 3/5 of 4 MiB compressible).
  EXPECT_LT(std::filesystem::file_size(path), 2u << 20);
}

INSTANTIATE_TEST_SUITE_P(Sizes, CompressedWrite,
                         ::testing::Values(std::make_tuple(65536, kCompressionZlib),
                                           std::make_tuple(65536, kCompressionZstd),
                                           std::make_tuple(4096, kCompressionZlib),
                                           std::make_tuple(512, kCompressionZstd)));

TEST(CompressedWrite, ZlibOutputIsRawDeflateThatRoundTrips) {
  for (uint8_t type : {kCompressionZlib, kCompressionZstd}) {
    ClusterCompressor c(type);
    std::mt19937_64 rng(1);
    std::vector<uint8_t> in = compressible(rng, 65536), out(65535), back(65536);
    ssize_t n = c.compress(in, out);
    ASSERT_GT(n, 0);
    EXPECT_LT(n, 30000);
    EXPECT_EQ(decompress_cluster(type, {out.data(), static_cast<size_t>(n)}, back), 0);
    EXPECT_EQ(back, in);
    // Random data does not fit into a cluster minus one byte.
    std::vector<uint8_t> noise = testing::random_bytes(rng, 65536);
    EXPECT_EQ(c.compress(noise, out), 0);
  }
}

TEST(CompressedWrite, RefusesPartialClusters) {
  ScratchDir dir;
  std::string path = dir.file("p.qcow2");
  CreateOptions o;
  o.size = 1 << 20;
  create_image(path, o);
  Qcow2Image::Options opts;
  auto image = Qcow2Image::open(path, opts);
  std::vector<uint8_t> small(4096);
  EXPECT_EQ(image->write_compressed(0, small), -EINVAL);
  std::vector<uint8_t> cluster(65536);
  EXPECT_EQ(image->write_compressed(512, cluster), -EINVAL);
  EXPECT_EQ(image->write_compressed(1 << 20, cluster), -EINVAL);
}

}  // namespace
}  // namespace tandem::qcow2
