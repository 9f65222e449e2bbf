#include "block/raw_driver.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <random>

#include "base/event_loop.h"
#include "block/test_image.h"

namespace tandem {
namespace {

using testing::TempImage;
using testing::wait_idle;

constexpr uint64_t kImageSize = 1 << 20;

struct Param {
  AioMode aio;
  CacheMode cache;
};

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  return std::string(info.param.aio == AioMode::kIoUring ? "IoUring" : "Threads") + "_" +
         to_string(info.param.cache);
}

// A heap buffer whose data starts `misalign` bytes after a 4 KiB boundary.
class Buffer {
 public:
  explicit Buffer(size_t size, size_t misalign = 0)
      : raw_(static_cast<uint8_t*>(
            std::aligned_alloc(4096, (size + misalign + 8191) / 4096 * 4096))),
        data_(raw_ + misalign),
        size_(size) {}
  ~Buffer() { std::free(raw_); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  uint8_t* data() { return data_; }
  size_t size() const { return size_; }
  std::vector<uint8_t> bytes() const { return {data_, data_ + size_}; }
  void fill(uint8_t seed) {
    for (size_t i = 0; i < size_; ++i) data_[i] = static_cast<uint8_t>(seed + i * 3);
  }
  // The buffer cut into pieces of the given sizes (the last one takes the rest).
  std::vector<iovec> split(std::vector<size_t> sizes) {
    std::vector<iovec> iov;
    size_t at = 0;
    for (size_t s : sizes) {
      iov.push_back({data_ + at, s});
      at += s;
    }
    if (at < size_) iov.push_back({data_ + at, size_ - at});
    return iov;
  }

 private:
  uint8_t* raw_;
  uint8_t* data_;
  size_t size_;
};

class RawDriverTest : public ::testing::TestWithParam<Param> {
 protected:
  std::unique_ptr<RawDriver> open(const std::string& path, bool read_only = false,
                                  unsigned ring_entries = 128) {
    RawDriver::Options o;
    o.read_only = read_only;
    o.cache = GetParam().cache;
    o.aio = GetParam().aio;
    o.ring_entries = ring_entries;
    auto d = RawDriver::open(path, o, loop);
    if (GetParam().aio == AioMode::kIoUring && std::string(d->aio_name()) != "io_uring") {
      skip = true;
    }
    return d;
  }
  // Issues a request and waits for its callback; returns the result.
  template <typename Issue>
  int run(BlockDriver& d, Issue issue) {
    int result = 1;
    issue([&](int r) { result = r; });
    EXPECT_TRUE(wait_idle(loop, d));
    EXPECT_NE(result, 1) << "callback did not run";
    return result;
  }
  int read(BlockDriver& d, uint64_t off, std::vector<iovec> iov) {
    return run(d, [&](BlockCallback cb) { d.read(off, iov, cb); });
  }
  int write(BlockDriver& d, uint64_t off, std::vector<iovec> iov) {
    return run(d, [&](BlockCallback cb) { d.write(off, iov, cb); });
  }
  std::vector<uint8_t> pattern(uint64_t off, uint64_t len) {
    std::vector<uint8_t> v(len);
    for (uint64_t i = 0; i < len; ++i) v[i] = TempImage::pattern_byte(off + i);
    return v;
  }

  EventLoop loop;
  bool skip = false;
};

#define SKIP_IF_NO_URING() \
  if (skip) GTEST_SKIP() << "io_uring unavailable on this host"

TEST_P(RawDriverTest, ScatterGatherRoundTrip) {
  TempImage img(kImageSize);
  auto d = open(img.path());
  SKIP_IF_NO_URING();
  EXPECT_EQ(d->size(), kImageSize);
  EXPECT_FALSE(d->read_only());

  Buffer out(16384);
  out.fill(5);
  ASSERT_EQ(write(*d, 65536, out.split({4096, 8192})), 0);
  EXPECT_EQ(img.contents(65536, 16384), out.bytes());
  EXPECT_EQ(img.contents(65536 - 512, 512), pattern(65536 - 512, 512));  // neighbours intact
  EXPECT_EQ(img.contents(65536 + 16384, 512), pattern(65536 + 16384, 512));

  Buffer in(16384);
  ASSERT_EQ(read(*d, 65536, in.split({12288})), 0);
  EXPECT_EQ(in.bytes(), out.bytes());
  ASSERT_EQ(read(*d, 0, in.split({512, 512, 1024})), 0);
  EXPECT_EQ(in.bytes(), pattern(0, 16384));
}

TEST_P(RawDriverTest, UnalignedOffsetsLengthsAndBuffers) {
  TempImage img(kImageSize);
  auto d = open(img.path());
  SKIP_IF_NO_URING();
  std::vector<uint8_t> model = pattern(0, kImageSize);
  std::mt19937 rng(42);
  for (int i = 0; i < 60; ++i) {
    uint64_t len = 1 + rng() % 20000;
    uint64_t off = rng() % (kImageSize - len);
    Buffer buf(len, rng() % 64);
    if (i % 2 == 0) {
      buf.fill(static_cast<uint8_t>(i));
      size_t cut = len > 7 ? rng() % (len - 1) + 1 : len;
      ASSERT_EQ(write(*d, off, buf.split({cut})), 0) << "write " << off << "+" << len;
      std::memcpy(model.data() + off, buf.data(), len);
    } else {
      ASSERT_EQ(read(*d, off, buf.split({len / 3})), 0) << "read " << off << "+" << len;
      ASSERT_EQ(0, std::memcmp(buf.data(), model.data() + off, len)) << off << "+" << len;
    }
  }
  EXPECT_EQ(img.contents(0, kImageSize), model);
  EXPECT_EQ(img.file_size(), kImageSize);
}

TEST_P(RawDriverTest, ConcurrentWritesSharingABlockAllLand) {
  // Neighbouring small writes in flight together: with O_DIRECT each is a read-modify-write of
  // the same host block, which must not undo the others.
  TempImage img(kImageSize);
  auto d = open(img.path());
  SKIP_IF_NO_URING();
  std::vector<std::unique_ptr<Buffer>> bufs;
  int done = 0, failed = 0;
  for (int i = 0; i < 40; ++i) {
    bufs.push_back(std::make_unique<Buffer>(100));
    bufs.back()->fill(static_cast<uint8_t>(100 + i));
    iovec v{bufs.back()->data(), 100};
    d->write(8192 + 100 * i, {&v, 1}, [&](int r) {
      ++done;
      failed += r != 0;
    });
  }
  // And an aligned write right behind them, in the same blocks' neighbourhood.
  Buffer big(8192);
  big.fill(9);
  iovec bv{big.data(), 8192};
  d->write(0, {&bv, 1}, [&](int r) {
    ++done;
    failed += r != 0;
  });
  ASSERT_TRUE(wait_idle(loop, *d));
  EXPECT_EQ(done, 41);
  EXPECT_EQ(failed, 0);
  std::vector<uint8_t> file = img.contents(0, 16384);
  EXPECT_EQ(std::vector<uint8_t>(file.begin(), file.begin() + 8192), big.bytes());
  for (int i = 0; i < 40; ++i) {
    ASSERT_EQ(0, std::memcmp(file.data() + 8192 + 100 * i, bufs[i]->data(), 100)) << i;
  }
  EXPECT_EQ(std::vector<uint8_t>(file.begin() + 12192, file.end()), pattern(12192, 16384 - 12192));
}

TEST_P(RawDriverTest, RequestsPastTheEndAreRejected) {
  TempImage img(kImageSize);
  auto d = open(img.path());
  SKIP_IF_NO_URING();
  Buffer buf(1024);
  buf.fill(1);
  EXPECT_EQ(read(*d, kImageSize - 512, buf.split({})), -EINVAL);
  EXPECT_EQ(write(*d, kImageSize - 512, buf.split({})), -EINVAL);
  EXPECT_EQ(write(*d, kImageSize, buf.split({})), -EINVAL);
  EXPECT_EQ(write(*d, UINT64_MAX - 100, buf.split({})), -EINVAL);  // offset + length wraps
  EXPECT_EQ(run(*d, [&](BlockCallback cb) { d->discard(kImageSize - 512, 1024, cb); }), -EINVAL);
  EXPECT_EQ(run(*d, [&](BlockCallback cb) { d->write_zeroes(UINT64_MAX, 2, false, cb); }), -EINVAL);
  EXPECT_EQ(img.file_size(), kImageSize);  // nothing reached the file
  EXPECT_EQ(img.contents(kImageSize - 512, 512), pattern(kImageSize - 512, 512));
  // The last bytes themselves are fine.
  EXPECT_EQ(read(*d, kImageSize - 1024, buf.split({})), 0);
  EXPECT_EQ(buf.bytes(), pattern(kImageSize - 1024, 1024));
}

TEST_P(RawDriverTest, FlushCompletes) {
  TempImage img(kImageSize);
  auto d = open(img.path());
  SKIP_IF_NO_URING();
  Buffer buf(4096);
  buf.fill(3);
  ASSERT_EQ(write(*d, 0, buf.split({})), 0);
  EXPECT_EQ(run(*d, [&](BlockCallback cb) { d->flush(cb); }), 0);
}

TEST_P(RawDriverTest, DiscardKeepsSizeAndNeighbours) {
  TempImage img(kImageSize);
  auto d = open(img.path());
  SKIP_IF_NO_URING();
  uint64_t before = img.allocated_bytes();
  ASSERT_EQ(run(*d, [&](BlockCallback cb) { d->discard(65536, 262144, cb); }), 0);
  EXPECT_EQ(img.file_size(), kImageSize);
  EXPECT_EQ(img.contents(65536, 262144), std::vector<uint8_t>(262144, 0));  // ext4 punches holes
  EXPECT_LT(img.allocated_bytes(), before);
  EXPECT_EQ(img.contents(0, 65536), pattern(0, 65536));
  EXPECT_EQ(img.contents(327680, 4096), pattern(327680, 4096));
}

TEST_P(RawDriverTest, WriteZeroesWithAndWithoutUnmap) {
  TempImage img(kImageSize);
  auto d = open(img.path());
  SKIP_IF_NO_URING();
  ASSERT_EQ(run(*d, [&](BlockCallback cb) { d->write_zeroes(4096, 8192, false, cb); }), 0);
  ASSERT_EQ(run(*d, [&](BlockCallback cb) { d->write_zeroes(65536, 131072, true, cb); }), 0);
  ASSERT_EQ(run(*d, [&](BlockCallback cb) { d->write_zeroes(300001, 777, false, cb); }), 0);
  EXPECT_EQ(img.contents(4096, 8192), std::vector<uint8_t>(8192, 0));
  EXPECT_EQ(img.contents(65536, 131072), std::vector<uint8_t>(131072, 0));
  EXPECT_EQ(img.contents(300001, 777), std::vector<uint8_t>(777, 0));
  EXPECT_EQ(img.contents(0, 4096), pattern(0, 4096));
  EXPECT_EQ(img.contents(12288, 4096), pattern(12288, 4096));
  EXPECT_EQ(img.contents(299000, 1001), pattern(299000, 1001));
  EXPECT_EQ(img.contents(300778, 1000), pattern(300778, 1000));
  EXPECT_EQ(img.file_size(), kImageSize);
}

TEST_P(RawDriverTest, ReadOnlyRefusesChanges) {
  TempImage img(kImageSize);
  auto d = open(img.path(), /*read_only=*/true);
  SKIP_IF_NO_URING();
  EXPECT_TRUE(d->read_only());
  Buffer buf(4096);
  buf.fill(1);
  EXPECT_EQ(write(*d, 0, buf.split({})), -EROFS);
  EXPECT_EQ(run(*d, [&](BlockCallback cb) { d->discard(0, 4096, cb); }), -EROFS);
  EXPECT_EQ(run(*d, [&](BlockCallback cb) { d->write_zeroes(0, 4096, true, cb); }), -EROFS);
  EXPECT_EQ(run(*d, [&](BlockCallback cb) { d->flush(cb); }), 0);
  EXPECT_EQ(read(*d, 0, buf.split({})), 0);
  EXPECT_EQ(buf.bytes(), pattern(0, 4096));
  EXPECT_EQ(img.contents(0, 4096), pattern(0, 4096));
}

TEST_P(RawDriverTest, MoreBuffersThanOneSystemCallTakes) {
  TempImage img(kImageSize);
  auto d = open(img.path());
  SKIP_IF_NO_URING();
  constexpr int kBuffers = 2000;  // the kernel takes 1024 per call
  Buffer buf(kBuffers * 512);
  std::vector<iovec> iov;
  for (int i = 0; i < kBuffers; ++i) iov.push_back({buf.data() + 512 * i, 512});
  ASSERT_EQ(read(*d, 4096, iov), 0);
  EXPECT_EQ(buf.bytes(), pattern(4096, kBuffers * 512));
  buf.fill(77);
  ASSERT_EQ(write(*d, 4096, iov), 0);
  EXPECT_EQ(img.contents(4096, kBuffers * 512), buf.bytes());
}

TEST_P(RawDriverTest, MoreRequestsThanRingSlots) {
  TempImage img(kImageSize);
  auto d = open(img.path(), false, /*ring_entries=*/4);
  SKIP_IF_NO_URING();
  constexpr int kRequests = 200;
  Buffer buf(4096 * kRequests);
  int ok = 0;
  for (int i = 0; i < kRequests; ++i) {
    iovec v{buf.data() + 4096 * i, 4096};
    d->read(4096ull * i, {&v, 1}, [&](int r) { ok += r == 0; });
  }
  EXPECT_EQ(d->in_flight(), static_cast<size_t>(kRequests));
  ASSERT_TRUE(wait_idle(loop, *d));
  EXPECT_EQ(ok, kRequests);
  EXPECT_EQ(buf.bytes(), pattern(0, 4096 * kRequests));
}

// Reads and writes the host takes as they are need no per-request allocation: their transfer
// state comes back to a pool.
TEST_P(RawDriverTest, TransferStateIsReused) {
  TempImage img(kImageSize);
  auto d = open(img.path());
  SKIP_IF_NO_URING();
  constexpr int kDepth = 4;
  Buffer buf(4096 * kDepth);
  for (int round = 0; round < 20; ++round) {
    int ok = 0;
    for (int i = 0; i < kDepth; ++i) {
      iovec v{buf.data() + 4096 * i, 4096};
      uint64_t off = 4096ull * ((round * kDepth + i) % 256);
      if (round % 2) {
        d->read(off, {&v, 1}, [&](int r) { ok += r == 0; });
      } else {
        d->write(off, {&v, 1}, [&](int r) { ok += r == 0; });
      }
    }
    ASSERT_TRUE(wait_idle(loop, *d));
    ASSERT_EQ(ok, kDepth);
  }
  EXPECT_LE(d->transfers_made(), static_cast<size_t>(kDepth));
}

TEST_P(RawDriverTest, CancelAllStopsTouchingBuffers) {
  TempImage img(kImageSize);
  auto d = open(img.path(), false, /*ring_entries=*/8);
  SKIP_IF_NO_URING();
  constexpr int kRequests = 64;
  // Reads (some unaligned, so the O_DIRECT ones bounce in several chunks) and writes.
  Buffer buf(16384 * kRequests);
  std::vector<int> results(kRequests, 1);
  for (int i = 0; i < kRequests; ++i) {
    uint64_t off = 16384ull * i + (i % 3 == 0 ? 100 : 0);
    iovec v{buf.data() + 16384 * i, 16000};
    if (i % 4 == 3) {
      d->write(off, {&v, 1}, [&results, i](int r) { results[i] = r; });
    } else {
      d->read(off, {&v, 1}, [&results, i](int r) { results[i] = r; });
    }
  }
  d->cancel_all();
  // From here on nothing may write into the buffers any more.
  std::memset(buf.data(), 0xee, buf.size());
  ASSERT_TRUE(wait_idle(loop, *d));
  for (int i = 0; i < kRequests; ++i) {
    EXPECT_TRUE(results[i] == 0 || results[i] == -ECANCELED) << i << ": " << results[i];
  }
  EXPECT_EQ(buf.bytes(), std::vector<uint8_t>(buf.size(), 0xee));
  // The driver keeps working for new requests.
  Buffer again(4096);
  ASSERT_EQ(read(*d, 4096, again.split({})), 0);
  EXPECT_EQ(again.bytes(), pattern(4096, 4096));
}

TEST_P(RawDriverTest, ReadBeyondAShrunkFileGivesZeroes) {
  TempImage img(kImageSize);
  auto d = open(img.path());
  SKIP_IF_NO_URING();
  ASSERT_EQ(::truncate(img.path().c_str(), 10000), 0);  // someone else shrinks the file
  Buffer buf(16384);
  buf.fill(1);
  ASSERT_EQ(read(*d, 0, buf.split({})), 0);
  std::vector<uint8_t> want = pattern(0, 10000);
  want.resize(16384, 0);
  EXPECT_EQ(buf.bytes(), want);
}

TEST_P(RawDriverTest, FlushedDataSurvivesSigkill) {
  TempImage img(kImageSize);
  {
    auto probe = open(img.path());
    SKIP_IF_NO_URING();
  }
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Child: write, flush, and die the moment the flush completes.
    EventLoop child_loop;
    RawDriver::Options o;
    o.cache = GetParam().cache;
    o.aio = GetParam().aio;
    auto d = RawDriver::open(img.path(), o, child_loop);
    Buffer buf(8192);
    std::memset(buf.data(), 0x5a, 8192);
    iovec v{buf.data(), 8192};
    d->write(131072, {&v, 1}, [&](int r) {
      if (r != 0) ::_exit(2);
      d->flush([](int r2) {
        if (r2 != 0) ::_exit(3);
        ::kill(::getpid(), SIGKILL);
      });
    });
    for (int i = 0; i < 1000; ++i) child_loop.run_once(10);
    ::_exit(4);  // the flush never completed
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  EXPECT_EQ(img.contents(131072, 8192), std::vector<uint8_t>(8192, 0x5a));
  // And the child's lock died with it: the image opens read-write again.
  EXPECT_NO_THROW(open(img.path()));
}

INSTANTIATE_TEST_SUITE_P(Modes, RawDriverTest,
                         ::testing::Values(Param{AioMode::kIoUring, CacheMode::kWriteback},
                                           Param{AioMode::kThreads, CacheMode::kWriteback},
                                           Param{AioMode::kIoUring, CacheMode::kNone},
                                           Param{AioMode::kThreads, CacheMode::kNone},
                                           Param{AioMode::kIoUring, CacheMode::kUnsafe},
                                           Param{AioMode::kThreads, CacheMode::kDirectsync}),
                         param_name);

TEST(RawDriver, WriteZeroesFallsBackToWritingWhereZeroRangeIsMissing) {
  // tmpfs punches holes but has no FALLOC_FL_ZERO_RANGE.
  if (::access("/dev/shm", W_OK) != 0) GTEST_SKIP() << "no /dev/shm";
  TempImage img(kImageSize, "/dev/shm");
  EventLoop loop;
  auto d = RawDriver::open(img.path(), RawDriver::Options{}, loop);
  int result = 1;
  d->write_zeroes(5000, 300000, false, [&](int r) { result = r; });
  ASSERT_TRUE(wait_idle(loop, *d));
  EXPECT_EQ(result, 0);
  EXPECT_EQ(img.contents(5000, 300000), std::vector<uint8_t>(300000, 0));
  EXPECT_EQ(img.contents(4000, 1000)[999], TempImage::pattern_byte(4999));
  EXPECT_EQ(img.contents(305000, 1)[0], TempImage::pattern_byte(305000));
}

TEST(RawDriver, CacheModesAndWriteCache) {
  TempImage img(4096);
  EventLoop loop;
  RawDriver::Options o;
  for (auto [mode, cache] : {std::pair{CacheMode::kWriteback, true},
                             {CacheMode::kWritethrough, false},
                             {CacheMode::kNone, true},
                             {CacheMode::kDirectsync, false},
                             {CacheMode::kUnsafe, true}}) {
    o.cache = mode;
    auto d = RawDriver::open(img.path(), o, loop);
    EXPECT_EQ(d->write_cache(), cache) << to_string(mode);
    EXPECT_EQ(d->cache_mode(), mode);
    if (uses_o_direct(mode)) {
      EXPECT_GE(d->request_alignment(), 512u);
    } else {
      EXPECT_EQ(d->request_alignment(), 1u);
    }
  }
}

}  // namespace
}  // namespace tandem
