// Qcow2Image::block_status against what an image made with QEMU holds, and against
// `qemu-img map`'s host offsets.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "block/qcow2/qcow2_image.h"
#include "block/qcow2/qemu_tools.h"

namespace tandem::qcow2 {
namespace {

using testing::must_run;
using testing::ScratchDir;
using Extent = Qcow2Image::Extent;

std::vector<Extent> all_extents(Qcow2Image& image, uint64_t max_length = ~uint64_t{0}) {
  std::vector<Extent> out;
  for (uint64_t off = 0; off < image.size();) {
    Extent e;
    EXPECT_EQ(image.block_status(off, max_length, e), 0);
    if (e.length == 0) break;
    out.push_back(e);
    off += e.length;
  }
  return out;
}

TEST(Qcow2Status, KindsAndOffsetsMatchQemuMap) {
  SKIP_WITHOUT_QEMU_IMG();
  ScratchDir dir;
  std::string path = dir.file("s.qcow2");
  must_run("qemu-img create -q -f qcow2 '" + path + "' 64M");
  must_run(
      "qemu-io -c 'write -P 1 0 256k' -c 'write -z 1M 128k' -c 'write -P 2 4M 64k' "
      "-c 'write -P 3 2M 64k' -c 'write -z -u 8M 64k' '" +
      path + "'");
  // A compressed cluster at 16M (written by QEMU).
  must_run("qemu-io -c 'write -c -P 4 16M 64k' '" + path + "'");
  // A zero cluster that keeps its allocation (v3: write -z without -u over data).
  must_run("qemu-io -c 'write -P 5 20M 64k' -c 'write -z 20M 64k' '" + path + "'");

  Qcow2Image::Options opts;
  opts.read_only = true;
  auto image = Qcow2Image::open(path, opts);
  std::vector<Extent> ext = all_extents(*image);
  // Expected layout, by guest offset.
  struct Want {
    uint64_t start, length;
    Extent::Kind kind;
  };
  const Want want[] = {
      {0, 256 << 10, Extent::kData},
      {256 << 10, (1 << 20) - (256 << 10), Extent::kUnallocated},
      {1 << 20, 128 << 10, Extent::kZero},
      {(1 << 20) + (128 << 10), (1 << 20) - (128 << 10), Extent::kUnallocated},
      {2 << 20, 64 << 10, Extent::kData},
      {(2 << 20) + (64 << 10), (2 << 20) - (64 << 10), Extent::kUnallocated},
      {4 << 20, 64 << 10, Extent::kData},
      {(4 << 20) + (64 << 10), (4 << 20) - (64 << 10), Extent::kUnallocated},
      {8 << 20, 64 << 10, Extent::kZero},
      {(8 << 20) + (64 << 10), (8 << 20) - (64 << 10), Extent::kUnallocated},
      {16 << 20, 64 << 10, Extent::kCompressed},
      {(16 << 20) + (64 << 10), (4 << 20) - (64 << 10), Extent::kUnallocated},
      {20 << 20, 64 << 10, Extent::kZero},
      {(20 << 20) + (64 << 10), (44 << 20) - (64 << 10), Extent::kUnallocated},
  };
  ASSERT_EQ(ext.size(), std::size(want));
  uint64_t pos = 0;
  for (size_t i = 0; i < ext.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(pos, want[i].start);
    EXPECT_EQ(ext[i].length, want[i].length);
    EXPECT_EQ(ext[i].kind, want[i].kind);
    pos += ext[i].length;
  }
  EXPECT_NE(ext[12].host_offset, 0u);  // the zero cluster that kept its allocation
  EXPECT_EQ(ext[2].host_offset, 0u);

  // Host offsets of the data agree with qemu-img map.
  auto map = nlohmann::json::parse(must_run("qemu-img map -U --output=json '" + path + "'"));
  pos = 0;
  for (const Extent& e : ext) {
    if (e.kind == Extent::kData) {
      bool found = false;
      for (const auto& m : map) {
        if (m["start"] == pos && m.contains("offset")) {
          EXPECT_EQ(m["offset"], e.host_offset);
          found = true;
        }
      }
      EXPECT_TRUE(found) << pos;
    }
    pos += e.length;
  }

  // Limits and unaligned starts.
  Extent e;
  ASSERT_EQ(image->block_status(1000, 4096, e), 0);
  EXPECT_EQ(e.kind, Extent::kData);
  EXPECT_EQ(e.length, 4096u);
  EXPECT_EQ(e.host_offset, ext[0].host_offset + 1000);
  ASSERT_EQ(image->block_status((64 << 20) - 10, 1 << 20, e), 0);
  EXPECT_EQ(e.length, 10u);
  EXPECT_EQ(image->block_status(64 << 20, 1, e), -EINVAL);
}

}  // namespace
}  // namespace tandem::qcow2
