#include "block/async_io.h"

#include <gtest/gtest.h>
#include <linux/falloc.h>

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <functional>
#include <future>

#include "base/event_loop.h"
#include "block/test_image.h"
#include "block/thread_pool_io.h"
#include "block/uring_io.h"

namespace tandem {
namespace {

using testing::TempImage;

class AsyncIoTest : public ::testing::TestWithParam<AioMode> {
 protected:
  void SetUp() override {
    io = AsyncIo::create(GetParam(), loop, 4);
    if (GetParam() == AioMode::kIoUring && std::string(io->name()) != "io_uring") {
      GTEST_SKIP() << "io_uring unavailable on this host";
    }
  }
  IoOp op(IoOp::Kind kind, int fd, uint64_t offset, std::vector<iovec> iov = {}) {
    IoOp o;
    o.kind = kind;
    o.fd = fd;
    o.offset = offset;
    o.iov = std::move(iov);
    return o;
  }

  EventLoop loop;
  std::unique_ptr<AsyncIo> io;
};

TEST_P(AsyncIoTest, EveryOperationKind) {
  TempImage img(65536);
  UniqueFd fd = open_or_throw(img.path().c_str(), O_RDWR);
  std::vector<uint8_t> buf(4096, 0x11);
  std::vector<int64_t> results;
  auto done = [&](int64_t r) { results.push_back(r); };
  ASSERT_TRUE(
      io->submit(op(IoOp::Kind::kWrite, fd.get(), 8192, {{buf.data(), 4096}}), io->epoch(), done));
  for (int i = 0; i < 1000 && results.empty(); ++i) loop.run_once(10);
  ASSERT_EQ(results, std::vector<int64_t>{4096});

  IoOp sync = op(IoOp::Kind::kFdatasync, fd.get(), 0);
  IoOp punch = op(IoOp::Kind::kFallocate, fd.get(), 0);
  punch.mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
  punch.length = 4096;
  std::vector<uint8_t> in(8192);
  ASSERT_TRUE(io->submit(std::move(sync), io->epoch(), done));
  ASSERT_TRUE(io->submit(std::move(punch), io->epoch(), done));
  ASSERT_TRUE(
      io->submit(op(IoOp::Kind::kRead, fd.get(), 4096, {{in.data(), 8192}}), io->epoch(), done));
  for (int i = 0; i < 1000 && results.size() < 4; ++i) loop.run_once(10);
  ASSERT_EQ(results.size(), 4u);
  // Operations may finish in any order; each kind has its own result.
  std::sort(results.begin(), results.end());
  EXPECT_EQ(results, (std::vector<int64_t>{0, 0, 4096, 8192}));
  EXPECT_EQ(std::vector<uint8_t>(in.begin() + 4096, in.end()), buf);
  EXPECT_EQ(img.contents(0, 4096), std::vector<uint8_t>(4096, 0));  // the hole
}

TEST_P(AsyncIoTest, ErrorsComeBackAsNegativeErrno) {
  std::vector<int64_t> results;
  uint8_t b;
  ASSERT_TRUE(io->submit(op(IoOp::Kind::kRead, 9999, 0, {{&b, 1}}), io->epoch(),
                         [&](int64_t r) { results.push_back(r); }));
  for (int i = 0; i < 1000 && results.empty(); ++i) loop.run_once(10);
  EXPECT_EQ(results, std::vector<int64_t>{-EBADF});
}

TEST_P(AsyncIoTest, MoreOperationsThanRingSlots) {
  TempImage img(256 * 512);
  UniqueFd fd = open_or_throw(img.path().c_str(), O_RDONLY);
  std::vector<uint8_t> buf(256 * 512);
  int done = 0;
  for (int i = 0; i < 256; ++i) {
    ASSERT_TRUE(io->submit(op(IoOp::Kind::kRead, fd.get(), 512ull * i, {{&buf[512 * i], 512}}),
                           io->epoch(), [&](int64_t r) { done += r == 512; }));
  }
  for (int i = 0; i < 1000 && done < 256; ++i) loop.run_once(10);
  EXPECT_EQ(done, 256);
  EXPECT_EQ(buf, img.contents(0, 256 * 512));
}

TEST_P(AsyncIoTest, CancelAllStartsANewEpoch) {
  TempImage img(256 * 4096);
  UniqueFd fd = open_or_throw(img.path().c_str(), O_RDONLY);
  std::vector<uint8_t> buf(256 * 4096);
  uint64_t old = io->epoch();
  int delivered = 0, cancelled = 0;
  for (int i = 0; i < 256; ++i) {
    ASSERT_TRUE(io->submit(op(IoOp::Kind::kRead, fd.get(), 4096ull * i, {{&buf[4096 * i], 4096}}),
                           old, [&](int64_t r) {
                             ++delivered;
                             cancelled += r == -ECANCELED;
                           }));
  }
  io->cancel_all();
  EXPECT_NE(io->epoch(), old);
  EXPECT_FALSE(io->submit(op(IoOp::Kind::kFdatasync, fd.get(), 0), old, [](int64_t) {}));
  EXPECT_FALSE(io->run_if_current(old, [] {}));
  EXPECT_TRUE(io->run_if_current(io->epoch(), [] {}));
  for (int i = 0; i < 1000 && delivered < 256; ++i) loop.run_once(10);
  EXPECT_EQ(delivered, 256);  // every operation is answered, run or cancelled
  // io_uring: only the 4 operations in the ring's slots ran (nothing reaped them to make room).
  // The thread pool's workers may have got through any number before the cancel.
  if (GetParam() == AioMode::kIoUring) {
    EXPECT_GE(cancelled, 256 - 4);
  }
}

TEST_P(AsyncIoTest, DeferRunsOnTheLoop) {
  int ran = 0;
  io->defer([&] { ++ran; });
  EXPECT_EQ(ran, 0);
  for (int i = 0; i < 100 && ran == 0; ++i) loop.run_once(10);
  EXPECT_EQ(ran, 1);
}

// Completions reach the loop through its pollers, without an fd event.
TEST_P(AsyncIoTest, PollerDeliversCompletions) {
  TempImage img(65536);
  UniqueFd fd = open_or_throw(img.path().c_str(), O_RDONLY);
  std::vector<uint8_t> buf(4096);
  std::vector<int64_t> results;
  iovec v{buf.data(), buf.size()};
  ASSERT_TRUE(io->submit_rw(IoOp::Kind::kRead, fd.get(), 4096, {&v, 1}, io->epoch(),
                            [&](int64_t r) { results.push_back(r); }));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (results.empty() && std::chrono::steady_clock::now() < deadline) loop.poll_once();
  ASSERT_EQ(results, std::vector<int64_t>{4096});
  EXPECT_EQ(buf, img.contents(4096, 4096));
  EXPECT_EQ(io->stats().polled, 1u);
}

// A batch plugged on the loop thread (a device handling its queue) is handed over at the last
// unplug; a cancel_all() between submit and unplug cancels what the batch holds, untouched.
TEST_P(AsyncIoTest, BatchPluggedOnTheLoopThread) {
  TempImage img(65536);
  UniqueFd fd = open_or_throw(img.path().c_str(), O_RDONLY);
  std::vector<uint8_t> buf(4 * 4096, 0xee);
  std::vector<int64_t> results;
  auto run_on_loop = [&](const std::function<void()>& fn) {
    bool ran = false;
    loop.post([&] {
      fn();
      ran = true;
    });
    while (!ran) loop.run_once(10);
  };
  auto wait_results = [&](size_t n) {
    for (int i = 0; i < 1000 && results.size() < n; ++i) {
      loop.run_once(1);
      loop.poll_once();
    }
  };
  uint64_t submits = io->stats().submit_calls;
  run_on_loop([&] {
    io->plug();
    io->plug();  // nests
    for (int i = 0; i < 4; ++i) {
      iovec v{&buf[4096 * i], 4096};
      EXPECT_TRUE(io->submit_rw(IoOp::Kind::kRead, fd.get(), 4096ull * i, {&v, 1}, io->epoch(),
                                [&](int64_t r) { results.push_back(r); }));
    }
    io->unplug();
    EXPECT_EQ(io->stats().submit_calls, submits) << "handed over before the last unplug";
    io->unplug();
  });
  if (GetParam() == AioMode::kIoUring) {
    EXPECT_EQ(io->stats().submit_calls, submits + 1);
  }
  wait_results(4);
  ASSERT_EQ(results, std::vector<int64_t>(4, 4096));
  EXPECT_EQ(buf, img.contents(0, 4 * 4096));

  results.clear();
  std::fill(buf.begin(), buf.end(), 0xee);
  run_on_loop([&] {
    io->plug();
    uint64_t epoch = io->epoch();
    iovec v{buf.data(), 4096};
    EXPECT_TRUE(io->submit_rw(IoOp::Kind::kRead, fd.get(), 0, {&v, 1}, epoch,
                              [&](int64_t r) { results.push_back(r); }));
    io->cancel_all();
    // Stale from now on: refused at once, its callback never runs.
    EXPECT_FALSE(io->submit_rw(IoOp::Kind::kRead, fd.get(), 0, {&v, 1}, epoch,
                               [&](int64_t r) { results.push_back(r + 1000); }));
    io->unplug();
  });
  wait_results(1);
  for (int i = 0; i < 10; ++i) loop.run_once(1);
  EXPECT_EQ(results, std::vector<int64_t>{-ECANCELED});
  EXPECT_EQ(buf, std::vector<uint8_t>(4 * 4096, 0xee));
}

// Operations the caller owns (IoRequest): each completes exactly once, more than the ring holds
// wait their turn, a stale epoch is refused without a completion, and cancel_all() answers what
// had not started with -ECANCELED.
TEST_P(AsyncIoTest, CallerOwnedRequests) {
  struct Read final : IoRequest {
    std::vector<int64_t>* results = nullptr;
    void complete(int64_t result) override { results->push_back(result); }
  };
  TempImage img(64 * 4096);
  UniqueFd fd = open_or_throw(img.path().c_str(), O_RDONLY);
  std::vector<uint8_t> buf(64 * 4096);
  std::vector<iovec> iov(64);
  std::vector<Read> reads(64);
  std::vector<int64_t> results;
  for (int i = 0; i < 64; ++i) {
    iov[i] = {&buf[4096 * i], 4096};
    Read& r = reads[i];
    r.results = &results;
    r.kind = IoOp::Kind::kRead;
    r.fd = fd.get();
    r.offset = 4096ull * (63 - i);
    r.iov = &iov[i];
    r.iov_count = 1;
    ASSERT_TRUE(io->submit(&r, io->epoch()));
  }
  for (int i = 0; i < 1000 && results.size() < 64; ++i) loop.run_once(10);
  ASSERT_EQ(results, std::vector<int64_t>(64, 4096));
  for (int i = 0; i < 64; ++i) {
    EXPECT_EQ(std::vector<uint8_t>(&buf[4096 * i], &buf[4096 * (i + 1)]),
              img.contents(4096ull * (63 - i), 4096))
        << i;
  }

  results.clear();
  uint64_t old = io->epoch();
  for (Read& r : reads) ASSERT_TRUE(io->submit(&r, old));
  io->cancel_all();
  Read late;
  late.results = &results;
  late.fd = fd.get();
  late.iov = iov.data();
  late.iov_count = 1;
  EXPECT_FALSE(io->submit(&late, old));
  for (int i = 0; i < 1000 && results.size() < 64; ++i) loop.run_once(10);
  for (int i = 0; i < 10; ++i) loop.run_once(1);
  ASSERT_EQ(results.size(), 64u);  // the late one never completes
  for (int64_t r : results) EXPECT_TRUE(r == 4096 || r == -ECANCELED) << r;
  if (GetParam() == AioMode::kIoUring) {
    // Only the ring's 4 slots had started.
    EXPECT_GE(std::count(results.begin(), results.end(), -ECANCELED), 60);
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, AsyncIoTest,
                         ::testing::Values(AioMode::kIoUring, AioMode::kThreads),
                         [](const auto& info) {
                           return std::string(info.param == AioMode::kIoUring ? "IoUring"
                                                                              : "Threads");
                         });

TEST(AsyncIo, ThreadsModeGivesThePool) {
  EventLoop loop;
  EXPECT_STREQ(AsyncIo::create(AioMode::kThreads, loop)->name(), "threads");
}

// Plugged operations wait for unplug(), which hands them all to the kernel with one system call.
TEST(AsyncIoUring, PluggedOperationsGoInOneSubmit) {
  EventLoop loop;
  auto io = AsyncIo::create(AioMode::kIoUring, loop, 16);
  if (std::string(io->name()) != "io_uring") GTEST_SKIP() << "io_uring unavailable on this host";
  TempImage img(65536);
  UniqueFd fd = open_or_throw(img.path().c_str(), O_RDONLY);
  std::vector<uint8_t> buf(8 * 4096);
  int done = 0;
  uint64_t submits = io->stats().submit_calls;
  io->plug();
  io->plug();  // nests
  for (int i = 0; i < 8; ++i) {
    iovec v{&buf[4096 * i], 4096};
    ASSERT_TRUE(io->submit_rw(IoOp::Kind::kRead, fd.get(), 4096ull * i, {&v, 1}, io->epoch(),
                              [&](int64_t r) { done += r == 4096; }));
  }
  io->unplug();
  for (int i = 0; i < 5; ++i) {
    loop.run_once(5);
    loop.poll_once();
  }
  EXPECT_EQ(done, 0) << "ran before the last unplug";
  EXPECT_EQ(io->stats().submit_calls, submits);
  io->unplug();
  EXPECT_EQ(io->stats().submit_calls, submits + 1);
  for (int i = 0; i < 1000 && done < 8; ++i) {
    loop.run_once(1);
    loop.poll_once();
  }
  EXPECT_EQ(done, 8);
  EXPECT_EQ(buf, img.contents(0, 8 * 4096));
}

// An engine made while the loop spins is polled only once it is whole (the poller must not look
// at a ring that io_uring_queue_init has not set up yet).
TEST(AsyncIoUring, PollerStartsOnlyOnceTheEngineIsBuilt) {
  IoThread io;
  io.loop().set_poll_max_ns(1'000'000'000);
  io.loop().add_poller([] { return false; }, [](bool) {});
  auto on_loop = [&](std::function<void()> fn) {
    std::promise<void> done;
    io.loop().post([&] {
      fn();
      done.set_value();
    });
    ASSERT_EQ(done.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  };
  on_loop([] {});  // the loop spins from now on
  for (int i = 0; i < 2000; ++i) {
    std::unique_ptr<AsyncIo> engine = AsyncIo::create(AioMode::kIoUring, io.loop(), 8);
    if (std::string(engine->name()) != "io_uring") GTEST_SKIP() << "io_uring unavailable";
    on_loop([&] { engine.reset(); });  // engines are destroyed on the loop's thread
  }
  io.stop();
}

}  // namespace
}  // namespace tandem
