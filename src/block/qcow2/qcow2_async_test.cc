// Qcow2Driver's asynchronous data path: reads and writes of allocated clusters run many at once
// through the AsyncIo engine, and the synchronous requests that change metadata wait for them.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/event_loop.h"
#include "block/qcow2/qcow2_driver.h"
#include "block/qcow2/qemu_tools.h"
#include "block/test_image.h"

namespace tandem {
namespace {

using qcow2::testing::must_run;
using qcow2::testing::ScratchDir;

constexpr uint64_t kCluster = 64 << 10;
constexpr uint64_t kImageSize = 4 << 20;

struct FreeDeleter {
  void operator()(uint8_t* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<uint8_t, FreeDeleter>;

// Page-aligned, as O_DIRECT wants, filled with `fill`.
Buffer buffer(size_t size, uint8_t fill) {
  Buffer b(static_cast<uint8_t*>(std::aligned_alloc(4096, size)));
  std::memset(b.get(), fill, size);
  return b;
}

struct Mode {
  CacheMode cache;
  AioMode aio;
};

std::string mode_name(const ::testing::TestParamInfo<Mode>& info) {
  return std::string(to_string(info.param.cache)) + "_" + to_string(info.param.aio);
}

class Qcow2AsyncTest : public ::testing::TestWithParam<Mode> {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_QEMU_IMG();
    img_ = dir_.file("disk.qcow2");
    must_run("qemu-img create -q -f qcow2 " + img_ + " 4M");
    // Every cluster of the first 3 MiB allocated, the clusters of each 1 MiB in reverse order
    // (so that requests crossing clusters map to pieces that are not contiguous in the file);
    // the last MiB stays unallocated.
    std::string cmds;
    for (int mb = 0; mb < 3; ++mb) {
      for (int c = 15; c >= 0; --c) {
        uint64_t off = (uint64_t(mb) << 20) + c * kCluster;
        cmds += " -c 'write -P " + std::to_string(0x10 + c) + " " + std::to_string(off) + " 64k'";
      }
    }
    must_run("qemu-io -f qcow2" + cmds + " " + img_);
    model_ = qcow2::testing::qemu_contents(dir_, img_);
    ASSERT_EQ(model_.size(), kImageSize);
  }

  std::unique_ptr<Qcow2Driver> open() {
    Qcow2Driver::Options o;
    o.cache = GetParam().cache;
    o.aio = GetParam().aio;
    try {
      return Qcow2Driver::open(img_, o, loop_);
    } catch (const Error& e) {
      return nullptr;  // a file system without O_DIRECT
    }
  }

  // Reads [offset, offset+len) through the driver and compares it with the model.
  void expect_reads_model(Qcow2Driver& d, uint64_t offset, uint64_t len) {
    Buffer b = buffer(len, 0xee);
    iovec v{b.get(), len};
    int result = 1;
    d.read(offset, {&v, 1}, [&](int r) { result = r; });
    ASSERT_TRUE(testing::wait_idle(loop_, d));
    ASSERT_EQ(result, 0);
    EXPECT_EQ(std::memcmp(b.get(), &model_[offset], len), 0) << "at " << offset;
  }

  ScratchDir dir_;
  std::string img_;
  std::vector<uint8_t> model_;
  EventLoop loop_;
};

TEST_P(Qcow2AsyncTest, ManyConcurrentReadsAndWritesOfAllocatedClusters) {
  auto d = open();
  if (!d) GTEST_SKIP() << "no O_DIRECT here";
  if (GetParam().aio == AioMode::kThreads) {
    EXPECT_STREQ(d->aio_name(), "threads");
  }
  // 24 writes at once, each 48 KiB, one every 128 KiB: half of them cross a cluster boundary
  // (two pieces far apart in the file), no two overlap.
  constexpr int kRequests = 24;
  std::vector<Buffer> bufs;
  std::vector<int> results(kRequests, 1);
  for (int i = 0; i < kRequests; ++i) {
    uint64_t offset = uint64_t(i) * (128 << 10) + (i % 4) * (16 << 10);
    bufs.push_back(buffer(48 << 10, static_cast<uint8_t>(0x80 + i)));
    // Two buffers per request: the second starts in the middle of the first's cluster piece.
    iovec v[2] = {{bufs.back().get(), 20 << 10}, {bufs.back().get() + (20 << 10), 28 << 10}};
    d->write(offset, v, [&results, i](int r) { results[i] = r; });
    std::memset(&model_[offset], 0x80 + i, 48 << 10);
  }
  ASSERT_TRUE(testing::wait_idle(loop_, *d));
  for (int i = 0; i < kRequests; ++i) EXPECT_EQ(results[i], 0) << i;
  EXPECT_EQ(d->async_requests(), uint64_t{kRequests});
  // Issued before any completion could run: all were on their way at once.
  EXPECT_EQ(d->max_async_running(), size_t{kRequests});

  // 24 reads at once, of the same ranges shifted by 8 KiB (across the written pieces).
  std::vector<Buffer> in;
  for (int i = 0; i < kRequests; ++i) {
    uint64_t offset = uint64_t(i) * (128 << 10) + (i % 4) * (16 << 10) + (8 << 10);
    in.push_back(buffer(48 << 10, 0xee));
    iovec v{in.back().get(), 48 << 10};
    d->read(offset, {&v, 1}, [&results, i](int r) { results[i] = r; });
  }
  ASSERT_TRUE(testing::wait_idle(loop_, *d));
  EXPECT_EQ(d->async_requests(), uint64_t{2 * kRequests});
  for (int i = 0; i < kRequests; ++i) {
    uint64_t offset = uint64_t(i) * (128 << 10) + (i % 4) * (16 << 10) + (8 << 10);
    EXPECT_EQ(results[i], 0) << i;
    EXPECT_EQ(std::memcmp(in[i].get(), &model_[offset], 48 << 10), 0) << "read " << i;
  }
  // Reads that also cover unallocated clusters take the synchronous path, with the same result.
  uint64_t before = d->async_requests();
  expect_reads_model(*d, (3 << 20) - (64 << 10), 128 << 10);
  EXPECT_EQ(d->async_requests(), before);

  d.reset();
  EXPECT_EQ(qcow2::testing::qemu_contents(dir_, img_), model_);
  EXPECT_EQ(qcow2::testing::qemu_check(img_).status, 0);
}

TEST_P(Qcow2AsyncTest, DiscardAndAllocationWaitForTransfersInFlight) {
  auto d = open();
  if (!d) GTEST_SKIP() << "no O_DIRECT here";
  std::vector<std::string> order;
  std::vector<Buffer> bufs;
  // Eight writes in flight, then a discard of another allocated range, an allocating write, a
  // write-zeroes, and a read and a write of allocated clusters issued behind them.
  for (int i = 0; i < 8; ++i) {
    bufs.push_back(buffer(kCluster, static_cast<uint8_t>(0xa0 + i)));
    iovec v{bufs.back().get(), kCluster};
    d->write(i * kCluster, {&v, 1}, [&order, i](int r) {
      EXPECT_EQ(r, 0);
      order.push_back("write" + std::to_string(i));
    });
    std::memset(&model_[i * kCluster], 0xa0 + i, kCluster);
  }
  EXPECT_EQ(d->async_requests(), 8u);
  d->discard(1 << 20, 4 * kCluster, [&](int r) {
    EXPECT_EQ(r, 0);
    order.push_back("discard");
  });
  std::memset(&model_[1 << 20], 0, 4 * kCluster);
  bufs.push_back(buffer(kCluster, 0xcc));
  iovec fresh{bufs.back().get(), kCluster};
  d->write(3 << 20, {&fresh, 1}, [&](int r) {  // unallocated: allocates
    EXPECT_EQ(r, 0);
    order.push_back("allocate");
  });
  std::memset(&model_[3 << 20], 0xcc, kCluster);
  d->write_zeroes(2 << 20, kCluster, false, [&](int r) {
    EXPECT_EQ(r, 0);
    order.push_back("zeroes");
  });
  std::memset(&model_[2 << 20], 0, kCluster);
  Buffer later_in = buffer(kCluster, 0xee);
  iovec rv{later_in.get(), kCluster};
  d->read(12 * kCluster, {&rv, 1}, [&](int r) {
    EXPECT_EQ(r, 0);
    order.push_back("read");
  });
  bufs.push_back(buffer(kCluster, 0xdd));
  iovec wv{bufs.back().get(), kCluster};
  d->write(13 * kCluster, {&wv, 1}, [&](int r) {
    EXPECT_EQ(r, 0);
    order.push_back("write13");
  });
  std::memset(&model_[13 * kCluster], 0xdd, kCluster);
  // Held back: nothing behind the discard started yet, not even the read.
  EXPECT_EQ(d->async_requests(), 8u);
  EXPECT_EQ(d->in_flight(), 13u);

  ASSERT_TRUE(testing::wait_idle(loop_, *d));
  ASSERT_EQ(order.size(), 13u);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(order[i].substr(0, 5), "write") << order[i];
  EXPECT_EQ(order[8], "discard");
  EXPECT_EQ(order[9], "allocate");
  EXPECT_EQ(order[10], "zeroes");
  // The read and write behind them went the asynchronous way once the drain was over.
  EXPECT_EQ(d->async_requests(), 10u);
  EXPECT_EQ(std::memcmp(later_in.get(), &model_[12 * kCluster], kCluster), 0);

  // The next transfers map the metadata as the discard and the allocation left it.
  expect_reads_model(*d, 0, kImageSize);
  d.reset();
  EXPECT_EQ(qcow2::testing::qemu_contents(dir_, img_), model_);
  EXPECT_EQ(qcow2::testing::qemu_check(img_).status, 0);
}

TEST_P(Qcow2AsyncTest, FlushSyncsCompletedAsynchronousWrites) {
  auto d = open();
  if (!d) GTEST_SKIP() << "no O_DIRECT here";
  auto flush = [&] {
    int result = 1;
    d->flush([&](int r) { result = r; });
    EXPECT_TRUE(testing::wait_idle(loop_, *d));
    EXPECT_EQ(result, 0);
  };
  flush();
  uint64_t syncs = d->image().syncs();
  flush();  // nothing written: nothing to sync
  EXPECT_EQ(d->image().syncs(), syncs);

  Buffer b = buffer(kCluster, 0x5c);
  iovec v{b.get(), kCluster};
  int result = 1;
  d->write(kCluster, {&v, 1}, [&](int r) { result = r; });
  ASSERT_TRUE(testing::wait_idle(loop_, *d));
  ASSERT_EQ(result, 0);
  ASSERT_EQ(d->async_requests(), 1u);  // the image itself never saw this write
  flush();
  EXPECT_EQ(d->image().syncs(), syncs + 1);

  // A flush issued while writes are in flight completes after them, and syncs them.
  std::vector<std::string> order;
  for (int i = 0; i < 4; ++i) {
    d->write(i * kCluster, {&v, 1}, [&order](int r) {
      EXPECT_EQ(r, 0);
      order.push_back("write");
    });
  }
  d->flush([&](int r) {
    EXPECT_EQ(r, 0);
    order.push_back("flush");
  });
  ASSERT_TRUE(testing::wait_idle(loop_, *d));
  EXPECT_EQ(order, (std::vector<std::string>{"write", "write", "write", "write", "flush"}));
  EXPECT_EQ(d->image().syncs(), syncs + 2);
}

// Random requests of every kind, up to 24 at once on disjoint ranges, checked against a model
// after each batch; the image must stay consistent for qemu-img check.
TEST_P(Qcow2AsyncTest, MixedRequestsKeepDataAndMetadataRight) {
  auto d = open();
  if (!d) GTEST_SKIP() << "no O_DIRECT here";
  std::mt19937_64 rng(7);
  constexpr uint64_t kUnit = 16 << 10;
  constexpr uint64_t kUnits = kImageSize / kUnit;
  for (int batch = 0; batch < 25; ++batch) {
    std::vector<bool> used(kUnits);
    std::vector<Buffer> bufs;
    struct Check {
      uint64_t offset, len;
      uint8_t* data;
    };
    std::vector<Check> checks;
    int failures = 0;
    auto ok = [&failures](int r) {
      if (r != 0) ++failures;
    };
    for (int i = 0; i < 24; ++i) {
      uint64_t first = rng() % kUnits;
      uint64_t count = 1 + rng() % 8;
      if (first + count > kUnits) count = kUnits - first;
      bool clash = false;
      for (uint64_t u = first; u < first + count; ++u) clash = clash || used[u];
      if (clash) continue;
      for (uint64_t u = first; u < first + count; ++u) used[u] = true;
      uint64_t offset = first * kUnit, len = count * kUnit;
      switch (rng() % 8) {
        case 0:
          d->discard(offset, len, ok);
          // Whole clusters inside the range read as zeroes; the rest keeps its data.
          for (uint64_t c = (offset + kCluster - 1) / kCluster * kCluster;
               c + kCluster <= offset + len; c += kCluster) {
            std::memset(&model_[c], 0, kCluster);
          }
          break;
        case 1:
          d->write_zeroes(offset, len, rng() % 2, ok);
          std::memset(&model_[offset], 0, len);
          break;
        case 2:
        case 3:
        case 4: {
          bufs.push_back(buffer(len, 0));
          auto bytes = qcow2::testing::random_bytes(rng, len);
          std::memcpy(bufs.back().get(), bytes.data(), len);
          std::memcpy(&model_[offset], bytes.data(), len);
          iovec v{bufs.back().get(), len};
          d->write(offset, {&v, 1}, ok);
          break;
        }
        default: {
          bufs.push_back(buffer(len, 0xee));
          iovec v{bufs.back().get(), len};
          d->read(offset, {&v, 1}, ok);
          checks.push_back({offset, len, bufs.back().get()});
          break;
        }
      }
      if (rng() % 10 == 0) d->flush(ok);
    }
    // Reads see the state before the batch for their ranges (no other request touched them).
    std::vector<std::vector<uint8_t>> expected;
    for (const Check& c : checks) {
      expected.emplace_back(model_.begin() + c.offset, model_.begin() + c.offset + c.len);
    }
    ASSERT_TRUE(testing::wait_idle(loop_, *d));
    EXPECT_EQ(failures, 0);
    for (size_t i = 0; i < checks.size(); ++i) {
      EXPECT_EQ(std::memcmp(checks[i].data, expected[i].data(), checks[i].len), 0)
          << "batch " << batch << " read at " << checks[i].offset;
    }
  }
  EXPECT_GT(d->async_requests(), 0u);
  expect_reads_model(*d, 0, kImageSize);
  d.reset();
  EXPECT_EQ(qcow2::testing::qemu_contents(dir_, img_), model_);
  EXPECT_EQ(qcow2::testing::qemu_check(img_).status, 0);
}

INSTANTIATE_TEST_SUITE_P(Modes, Qcow2AsyncTest,
                         ::testing::Values(Mode{CacheMode::kNone, AioMode::kIoUring},
                                           Mode{CacheMode::kWriteback, AioMode::kIoUring},
                                           Mode{CacheMode::kNone, AioMode::kThreads},
                                           Mode{CacheMode::kWriteback, AioMode::kThreads}),
                         mode_name);

}  // namespace
}  // namespace tandem
