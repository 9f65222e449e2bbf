// Crash consistency: every write and fdatasync the driver issues is recorded, then replayed as a
// power cut would leave the file: everything before some fdatasync, plus any subset of the
// writes after it (the page cache writes back in any order). Each such file must pass
// `qemu-img check` (leaks allowed, no corruption) and hold, for every byte the guest did not
// touch since the last completed flush, what the guest saw at that flush.
#include <gtest/gtest.h>

#include <random>

#include "block/qcow2/qcow2_image.h"
#include "block/qcow2/qemu_tools.h"
#include "block/qcow2/write_recorder.h"

namespace tandem::qcow2 {
namespace {

using testing::must_run;
using testing::Recorder;
using testing::ScratchDir;

struct Flush {
  size_t syncs;                 // fdatasyncs issued when it completed
  size_t ops;                   // guest requests before it
  std::vector<uint8_t> shadow;  // the guest's view then
};

struct Op {
  uint64_t offset;
  uint64_t length;
};

void run_crash_test(const ScratchDir& dir, const std::string& create_options, uint64_t seed,
                    int states) {
  std::string base = dir.file("base.raw");
  std::string img = dir.file("img.qcow2");
  const uint64_t size = 1 << 20;
  must_run("qemu-img create -q -f raw " + base + " 1M");
  must_run("qemu-io -f raw -c 'write -P 0xd7 0 1M' " + base);
  must_run("qemu-img create -q -f qcow2 -o " + create_options + " -b " + base + " -F raw " + img +
           " 1M");
  must_run("qemu-io -f qcow2 -c 'write -P 0x1e 0 256k' -c 'write -z 512k 64k' " + img);
  std::vector<uint8_t> original = testing::read_file(img);
  std::vector<uint8_t> shadow = testing::qemu_contents(dir, img);

  Recorder recorder;
  std::vector<Flush> flushes{{0, 0, shadow}};
  std::vector<Op> ops;
  std::mt19937_64 rng(seed);
  {
    Qcow2Image::Options o;
    o.observer = &recorder;
    // Tiny caches: metadata goes out under pressure in the middle of the run too.
    o.l2_cache_bytes = 1;
    o.refcount_cache_bytes = 1;
    auto image = Qcow2Image::open(img, o);
    for (int i = 0; i < 120; ++i) {
      uint64_t off = rng() % size;
      uint64_t len = std::min<uint64_t>(1 + rng() % (48 << 10), size - off);
      int kind = static_cast<int>(rng() % 10);
      if (kind < 7) {
        std::vector<uint8_t> data = testing::random_bytes(rng, len);
        iovec v{data.data(), len};
        ASSERT_EQ(image->write(off, {&v, 1}), 0);
        std::copy(data.begin(), data.end(), shadow.begin() + off);
      } else if (kind < 9) {
        ASSERT_EQ(image->write_zeroes(off, len, kind == 8), 0);
        std::fill(shadow.begin() + off, shadow.begin() + off + len, 0);
      } else {
        ASSERT_EQ(image->discard(off, len), 0);
        // Whole clusters read as zeroes after, the rest keeps its data (all of it in version 2
        // images over a backing file).
        uint64_t cs = image->header().cluster_size();
        uint64_t b = (off + cs - 1) / cs * cs, e = (off + len) / cs * cs;
        if (b < e && image->header().version >= 3) {
          std::fill(shadow.begin() + b, shadow.begin() + e, 0);
        }
      }
      ops.push_back({off, len});
      if (i % 8 == 7) {
        ASSERT_EQ(image->flush(), 0);
        flushes.push_back({recorder.syncs(), ops.size(), shadow});
      }
    }
  }
  ASSERT_GT(recorder.syncs(), 10u);

  std::string crashed = dir.file("crashed.qcow2");
  for (int s = 0; s < states; ++s) {
    size_t synced = s == 0 ? recorder.syncs() : rng() % (recorder.syncs() + 1);
    testing::write_file(crashed, recorder.replay(original, synced, rng));
    SCOPED_TRACE("crash after " + std::to_string(synced) + " of " +
                 std::to_string(recorder.syncs()) + " syncs");
    testing::CommandResult check = testing::qemu_check(crashed);
    // 0: clean, 3: leaked clusters only.
    ASSERT_TRUE(check.status == 0 || check.status == 3) << check.output;
    ASSERT_EQ(check.output.find("ERROR"), std::string::npos) << check.output;

    // The last flush that completed before the crash, and what the guest touched after it.
    const Flush* last = &flushes[0];
    for (const Flush& f : flushes) {
      if (f.syncs <= synced) last = &f;
    }
    std::vector<bool> touched(size);
    for (size_t i = last->ops; i < ops.size(); ++i) {
      std::fill(touched.begin() + ops[i].offset, touched.begin() + ops[i].offset + ops[i].length,
                true);
    }
    std::vector<uint8_t> seen = testing::qemu_contents(dir, crashed);
    ASSERT_EQ(seen.size(), size);
    for (size_t i = 0; i < size; ++i) {
      if (!touched[i] && seen[i] != last->shadow[i]) {
        FAIL() << "byte " << i << " reads " << int(seen[i]) << ", flushed as "
               << int(last->shadow[i]);
      }
    }
  }
}

class Qcow2CrashTest : public ::testing::Test {
 protected:
  void SetUp() override { SKIP_WITHOUT_QEMU_IMG(); }
  ScratchDir dir_;
};

TEST_F(Qcow2CrashTest, Version3Over4kClusters) {
  run_crash_test(dir_, "cluster_size=4k", 1, 24);
}

TEST_F(Qcow2CrashTest, GrowingRefcountStructures) {
  // 512-byte clusters, 64-bit refcounts: new refcount blocks and a refcount table that moves.
  run_crash_test(dir_, "cluster_size=512,refcount_bits=64", 2, 24);
}

TEST_F(Qcow2CrashTest, Version2) {
  run_crash_test(dir_, "compat=0.10,cluster_size=4k", 3, 14);
}

}  // namespace
}  // namespace tandem::qcow2
