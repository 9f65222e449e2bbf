#include "hw/virtio/blk/virtio_blk.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>

#include "base/event_loop.h"
#include "block/raw_driver.h"
#include "block/test_image.h"
#include "hw/virtio/test_driver.h"
#include "hw/virtio/virtio_defs.h"
#include "hw/virtio/virtio_mmio.h"

namespace tandem {
namespace {

using namespace virtio;
using testing::Buf;
using testing::FakeIrq;
using testing::TempImage;
using testing::TestDriver;
namespace reg = testing;

constexpr uint64_t kRamBase = 0x40000000;
constexpr uint64_t kRamSize = 8 << 20;
constexpr uint64_t kImageSize = 1 << 20;  // 2048 sectors
constexpr uint64_t kSectors = kImageSize / 512;
constexpr uint64_t kVersion1 = feature_bit(kFeatureVersion1);
constexpr uint64_t kIndirect = feature_bit(kFeatureIndirectDesc);
constexpr uint64_t kEventIdx = feature_bit(kFeatureEventIdx);

uint64_t blk_feature(unsigned bit) {
  return feature_bit(bit);
}
// What Linux's virtio_blk accepts of what we offer (all of it).
constexpr uint64_t kLinuxFeatures = kVersion1 | kIndirect | kEventIdx;

struct Param {
  AioMode aio;
  CacheMode cache;
};

struct Rig {
  explicit Rig(Param p, VirtioBlk::Options options = {}, bool read_only = false,
               uint64_t image_size = kImageSize)
      : img(image_size) {
    ram.add_region(kRamBase, kRamSize);
    RawDriver::Options o;
    o.aio = p.aio;
    o.cache = p.cache;
    o.read_only = read_only;
    auto raw = RawDriver::open(img.path(), o, loop);
    aio_name = raw->aio_name();
    auto dev = std::make_unique<VirtioBlk>(std::move(raw), std::move(options));
    blk = dev.get();
    mmio = VirtioMmio::create(std::move(dev), ram, irq, loop);
    driver.emplace(*mmio, ram, kRamBase, kRamSize);
  }

  uint64_t all_features() { return driver->device_features(); }
  bool init(uint16_t queues = 1, uint16_t size = 64) {
    return driver->init(all_features(), queues, size);
  }

  uint64_t header(uint32_t type, uint64_t sector) {
    uint64_t gpa = driver->alloc(16);
    ram.store<uint32_t>(gpa, type);
    ram.store<uint32_t>(gpa + 4, 0);
    ram.store<uint64_t>(gpa + 8, sector);
    return gpa;
  }
  uint64_t status_byte() {
    uint64_t gpa = driver->alloc(1, 1);
    ram.store<uint8_t>(gpa, 0xff);
    return gpa;
  }
  uint64_t data(uint64_t len, uint8_t fill) {
    uint64_t gpa = driver->alloc(len, 4096);
    std::memset(ram.host_ptr(gpa, len), fill, len);
    return gpa;
  }
  std::vector<uint8_t> guest(uint64_t gpa, uint64_t len) {
    uint8_t* p = ram.host_ptr(gpa, len);
    return {p, p + len};
  }

  // Runs the loop until the queue returns a buffer (or 10 s pass).
  std::optional<VirtqUsedElem> wait_used(uint16_t q = 0) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (auto e = driver->get_used(q)) return e;
      loop.run_once(10);
    }
    return std::nullopt;
  }

  struct Result {
    uint8_t status;
    uint32_t len;
  };
  // Sends header + bufs + status byte on queue q and waits for the answer.
  Result request(uint32_t type, uint64_t sector, std::vector<Buf> bufs, uint16_t q = 0) {
    uint64_t st = status_byte();
    std::vector<Buf> chain{{header(type, sector), 16, false}};
    chain.insert(chain.end(), bufs.begin(), bufs.end());
    chain.push_back({st, 1, true});
    driver->add_chain(q, chain);
    driver->kick(q);
    auto used = wait_used(q);
    EXPECT_TRUE(used.has_value()) << "no completion";
    if (!used) return {0xee, 0};
    return {ram.load<uint8_t>(st), used->len};
  }
  Result discard_like(uint32_t type, std::vector<std::tuple<uint64_t, uint32_t, uint32_t>> segs) {
    uint64_t gpa = driver->alloc(16 * segs.size());
    for (size_t i = 0; i < segs.size(); ++i) {
      ram.store<uint64_t>(gpa + 16 * i, std::get<0>(segs[i]));
      ram.store<uint32_t>(gpa + 16 * i + 8, std::get<1>(segs[i]));
      ram.store<uint32_t>(gpa + 16 * i + 12, std::get<2>(segs[i]));
    }
    return request(type, 0, {{gpa, static_cast<uint32_t>(16 * segs.size()), false}});
  }
  uint32_t config32(uint64_t off) { return driver->read(reg::kConfig + off); }
  uint64_t config64(uint64_t off) {
    return config32(off) | static_cast<uint64_t>(config32(off + 4)) << 32;
  }
  uint8_t config8(uint64_t off) {
    uint8_t v = 0;
    mmio->io_read(reg::kConfig + off, {&v, 1});
    return v;
  }
  bool skip(Param p) const { return p.aio == AioMode::kIoUring && aio_name != "io_uring"; }

  TempImage img;
  GuestRam ram;
  FakeIrq irq;
  EventLoop loop;
  VirtioBlk* blk;
  std::string aio_name;
  std::shared_ptr<VirtioMmio> mmio;
  std::optional<TestDriver> driver;
};

std::vector<uint8_t> pattern(uint64_t off, uint64_t len) {
  std::vector<uint8_t> v(len);
  for (uint64_t i = 0; i < len; ++i) v[i] = TempImage::pattern_byte(off + i);
  return v;
}

class VirtioBlkTest : public ::testing::TestWithParam<Param> {};

#define MAKE_RIG(name, ...)                        \
  Rig name(GetParam() __VA_OPT__(, ) __VA_ARGS__); \
  if (name.skip(GetParam())) GTEST_SKIP() << "io_uring unavailable on this host"

TEST_P(VirtioBlkTest, IdentityFeaturesAndConfig) {
  VirtioBlk::Options o;
  o.queue_size = 128;
  MAKE_RIG(rig, o);
  TestDriver& d = *rig.driver;
  EXPECT_EQ(d.read(reg::kDeviceId), kDeviceIdBlock);
  uint64_t f = d.device_features();
  for (unsigned bit :
       {VirtioBlk::kFeatureSegMax, VirtioBlk::kFeatureBlkSize, VirtioBlk::kFeatureFlush,
        VirtioBlk::kFeatureTopology, VirtioBlk::kFeatureConfigWce, VirtioBlk::kFeatureDiscard,
        VirtioBlk::kFeatureWriteZeroes}) {
    EXPECT_TRUE(f & blk_feature(bit)) << bit;
  }
  EXPECT_FALSE(f & blk_feature(VirtioBlk::kFeatureRo));
  EXPECT_FALSE(f & blk_feature(VirtioBlk::kFeatureMq));
  d.write(reg::kQueueSel, 0);
  EXPECT_EQ(d.read(reg::kQueueNumMax), 128u);
  EXPECT_EQ(rig.config64(0), kSectors);
  EXPECT_EQ(rig.config32(12), 126u);  // seg_max
  EXPECT_EQ(rig.config32(20), 512u);  // blk_size
  uint32_t align = rig.blk->driver().request_alignment();
  EXPECT_EQ(rig.config8(24), align > 512 ? std::countr_zero(align / 512) : 0);
  EXPECT_EQ(rig.config8(32), 1);                               // writeback
  EXPECT_EQ(rig.config32(34 - 2) >> 16, 1u);                   // num_queues
  EXPECT_EQ(rig.config32(36), VirtioBlk::kMaxDiscardSectors);  // max_discard_sectors
  EXPECT_EQ(rig.config32(40), VirtioBlk::kMaxDiscardSegments);
  EXPECT_EQ(rig.config32(48), VirtioBlk::kMaxDiscardSectors);  // max_write_zeroes_sectors
  EXPECT_EQ(rig.config32(52), VirtioBlk::kMaxDiscardSegments);
  EXPECT_EQ(rig.config8(56), 1);    // write_zeroes_may_unmap
  EXPECT_EQ(rig.config32(72), 0u);  // beyond the config space
}

TEST_P(VirtioBlkTest, WriteThenReadBack) {
  MAKE_RIG(rig);
  ASSERT_TRUE(rig.init());
  uint64_t a = rig.data(1024, 0x11), b = rig.data(512, 0x22);
  auto w = rig.request(VirtioBlk::kTypeOut, 8, {{a, 1024, false}, {b, 512, false}});
  EXPECT_EQ(w.status, VirtioBlk::kStatusOk);
  EXPECT_EQ(w.len, 1u);
  std::vector<uint8_t> want(1024, 0x11);
  want.resize(1536, 0x22);
  EXPECT_EQ(rig.img.contents(8 * 512, 1536), want);
  EXPECT_EQ(rig.img.contents(7 * 512, 512), pattern(7 * 512, 512));
  EXPECT_EQ(rig.img.contents(11 * 512, 512), pattern(11 * 512, 512));

  uint64_t in = rig.data(2048, 0);
  auto r = rig.request(VirtioBlk::kTypeIn, 7, {{in, 2048, true}});
  EXPECT_EQ(r.status, VirtioBlk::kStatusOk);
  EXPECT_EQ(r.len, 2049u);  // data + status
  std::vector<uint8_t> file = pattern(7 * 512, 512);
  file.insert(file.end(), want.begin(), want.end());
  EXPECT_EQ(rig.guest(in, 2048), file);
}

TEST_P(VirtioBlkTest, IndirectChainsAndStatusSharingTheDataBuffer) {
  MAKE_RIG(rig);
  ASSERT_TRUE(rig.init());
  // One writable buffer holding 512 bytes of data followed by the status byte, in an indirect
  // table.
  uint64_t buf = rig.data(513, 0x77);
  rig.driver->add_indirect(0, {{rig.header(VirtioBlk::kTypeIn, 2), 16, false}, {buf, 513, true}});
  rig.driver->kick(0);
  auto used = rig.wait_used();
  ASSERT_TRUE(used);
  EXPECT_EQ(used->len, 513u);
  EXPECT_EQ(rig.guest(buf, 512), pattern(1024, 512));
  EXPECT_EQ(rig.ram.load<uint8_t>(buf + 512), VirtioBlk::kStatusOk);
}

TEST_P(VirtioBlkTest, HeaderSharingItsBufferWithWriteData) {
  MAKE_RIG(rig);
  ASSERT_TRUE(rig.init());
  // One readable buffer: the 16-byte header, then 512 bytes of data; then 512 more in a second
  // buffer, and the status byte.
  uint64_t buf = rig.data(16 + 512, 0x5a);
  rig.ram.store<uint32_t>(buf, VirtioBlk::kTypeOut);
  rig.ram.store<uint32_t>(buf + 4, 0);
  rig.ram.store<uint64_t>(buf + 8, 4);
  uint64_t more = rig.data(512, 0xa5);
  uint64_t st = rig.status_byte();
  rig.driver->add_chain(0, {{buf, 16 + 512, false}, {more, 512, false}, {st, 1, true}});
  rig.driver->kick(0);
  ASSERT_TRUE(rig.wait_used());
  EXPECT_EQ(rig.ram.load<uint8_t>(st), VirtioBlk::kStatusOk);
  std::vector<uint8_t> want(512, 0x5a);
  want.resize(1024, 0xa5);
  EXPECT_EQ(rig.img.contents(4 * 512, 1024), want);
  EXPECT_EQ(rig.img.contents(3 * 512, 512), pattern(3 * 512, 512));
  EXPECT_EQ(rig.img.contents(6 * 512, 512), pattern(6 * 512, 512));
}

TEST_P(VirtioBlkTest, ManyRequestsInFlightCompleteOutOfOrder) {
  MAKE_RIG(rig);
  ASSERT_TRUE(rig.init(1, 128));  // 40 chains of 3 descriptors
  std::vector<uint64_t> bufs, status;
  for (int i = 0; i < 40; ++i) {
    bufs.push_back(rig.data(4096, 0));
    status.push_back(rig.status_byte());
    uint32_t type = i % 2 ? VirtioBlk::kTypeIn : VirtioBlk::kTypeOut;
    if (type == VirtioBlk::kTypeOut) std::memset(rig.ram.host_ptr(bufs[i], 4096), i, 4096);
    rig.driver->add_chain(0, {{rig.header(type, 8ull * i), 16, false},
                              {bufs[i], 4096, type == VirtioBlk::kTypeIn},
                              {status[i], 1, true}});
  }
  rig.driver->kick(0);
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(rig.wait_used()) << i;
  for (int i = 0; i < 40; ++i) {
    EXPECT_EQ(rig.ram.load<uint8_t>(status[i]), VirtioBlk::kStatusOk);
    if (i % 2) {
      EXPECT_EQ(rig.guest(bufs[i], 4096), pattern(4096ull * i, 4096)) << i;
    } else {
      EXPECT_EQ(rig.img.contents(4096ull * i, 4096), std::vector<uint8_t>(4096, i)) << i;
    }
  }
  EXPECT_TRUE(rig.irq.level);
}

// One notification's worth of requests reaches the host in one batch (a single io_uring_enter),
// and a request the guest got wrong in the middle of it fails alone: the others complete.
TEST_P(VirtioBlkTest, BatchWithABadRequestInTheMiddle) {
  MAKE_RIG(rig);
  ASSERT_TRUE(rig.init(1, 64));
  auto& raw = dynamic_cast<RawDriver&>(rig.blk->driver());
  struct Req {
    uint32_t type;
    uint64_t sector;
    uint8_t expect;
  };
  const std::vector<Req> reqs = {{VirtioBlk::kTypeIn, 0, VirtioBlk::kStatusOk},
                                 {VirtioBlk::kTypeOut, 64, VirtioBlk::kStatusOk},
                                 {VirtioBlk::kTypeIn, kSectors - 4, VirtioBlk::kStatusIoErr},
                                 {VirtioBlk::kTypeIn, 16, VirtioBlk::kStatusOk},
                                 {VirtioBlk::kTypeOut, 72, VirtioBlk::kStatusOk}};
  std::vector<uint64_t> bufs, status;
  for (size_t i = 0; i < reqs.size(); ++i) {
    bool in = reqs[i].type == VirtioBlk::kTypeIn;
    bufs.push_back(rig.data(4096, in ? 0 : static_cast<uint8_t>(0x70 + i)));
    status.push_back(rig.status_byte());
    rig.driver->add_chain(0, {{rig.header(reqs[i].type, reqs[i].sector), 16, false},
                              {bufs[i], 4096, in},
                              {status[i], 1, true}});
  }
  uint64_t submits = raw.aio_stats().submit_calls;
  rig.driver->kick(0);
  for (size_t i = 0; i < reqs.size(); ++i) ASSERT_TRUE(rig.wait_used()) << i;
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(rig.ram.load<uint8_t>(status[i]), reqs[i].expect) << i;
  }
  EXPECT_EQ(rig.guest(bufs[0], 4096), pattern(0, 4096));
  EXPECT_EQ(rig.guest(bufs[3], 4096), pattern(16 * 512, 4096));
  EXPECT_EQ(rig.img.contents(64 * 512, 4096), std::vector<uint8_t>(4096, 0x71));
  EXPECT_EQ(rig.img.contents(72 * 512, 4096), std::vector<uint8_t>(4096, 0x74));
  if (GetParam().aio == AioMode::kIoUring) {
    EXPECT_EQ(raw.aio_stats().submit_calls - submits, 1u) << "one submit for the batch";
  }
}

// Per-request state is pooled: a long run of requests at depth 4 makes no more request objects
// than were ever in flight at once (plus the one a pass holds to pop into).
TEST_P(VirtioBlkTest, RequestStateIsReused) {
  MAKE_RIG(rig);
  ASSERT_TRUE(rig.init(1, 64));
  auto& raw = dynamic_cast<RawDriver&>(rig.blk->driver());
  constexpr int kDepth = 4;
  std::vector<uint64_t> bufs, status;
  for (int i = 0; i < kDepth; ++i) {
    bufs.push_back(rig.data(4096, 0));
    status.push_back(rig.status_byte());
  }
  for (int round = 0; round < 25; ++round) {
    for (int i = 0; i < kDepth; ++i) {
      uint64_t sector = 8ull * ((round * kDepth + i) % 256);
      rig.ram.store<uint8_t>(status[i], 0xff);
      rig.driver->add_chain(0, {{rig.header(VirtioBlk::kTypeIn, sector), 16, false},
                                {bufs[i], 4096, true},
                                {status[i], 1, true}});
    }
    rig.driver->kick(0);
    for (int i = 0; i < kDepth; ++i) ASSERT_TRUE(rig.wait_used()) << round << " " << i;
    for (int i = 0; i < kDepth; ++i) {
      ASSERT_EQ(rig.ram.load<uint8_t>(status[i]), VirtioBlk::kStatusOk);
      uint64_t sector = 8ull * ((round * kDepth + i) % 256);
      ASSERT_EQ(rig.guest(bufs[i], 4096), pattern(sector * 512, 4096));
    }
  }
  EXPECT_LE(rig.blk->requests_made(), static_cast<size_t>(kDepth + 1));
  EXPECT_LE(raw.transfers_made(), static_cast<size_t>(kDepth));
}

TEST_P(VirtioBlkTest, FlushAndGetId) {
  VirtioBlk::Options o;
  o.serial = "TANDEM-SERIAL-0001";
  MAKE_RIG(rig, o);
  ASSERT_TRUE(rig.init());
  EXPECT_EQ(rig.request(VirtioBlk::kTypeFlush, 0, {}).status, VirtioBlk::kStatusOk);

  uint64_t id = rig.data(20, 0xaa);
  auto r = rig.request(VirtioBlk::kTypeGetId, 0, {{id, 20, true}});
  EXPECT_EQ(r.status, VirtioBlk::kStatusOk);
  EXPECT_EQ(r.len, 21u);
  std::vector<uint8_t> want(20, 0);
  std::memcpy(want.data(), o.serial.data(), o.serial.size());
  EXPECT_EQ(rig.guest(id, 20), want);
  // A shorter buffer gets the start of the ID.
  uint64_t shorter = rig.data(6, 0xaa);
  r = rig.request(VirtioBlk::kTypeGetId, 0, {{shorter, 6, true}});
  EXPECT_EQ(r.len, 7u);
  EXPECT_EQ(rig.guest(shorter, 6), std::vector<uint8_t>(want.begin(), want.begin() + 6));
}

TEST_P(VirtioBlkTest, LongSerialIsCutToTwentyBytes) {
  VirtioBlk::Options o;
  o.serial = "0123456789abcdefghijKLMNOP";
  MAKE_RIG(rig, o);
  ASSERT_TRUE(rig.init());
  uint64_t id = rig.data(32, 0xaa);
  auto r = rig.request(VirtioBlk::kTypeGetId, 0, {{id, 32, true}});
  EXPECT_EQ(r.len, 21u);
  std::string got(reinterpret_cast<const char*>(rig.ram.host_ptr(id, 20)), 20);
  EXPECT_EQ(got, "0123456789abcdefghij");
  EXPECT_EQ(rig.ram.load<uint8_t>(id + 20), 0xaa);  // untouched beyond 20 bytes
}

TEST_P(VirtioBlkTest, DiscardAndWriteZeroes) {
  MAKE_RIG(rig);
  ASSERT_TRUE(rig.init());
  using T = std::tuple<uint64_t, uint32_t, uint32_t>;
  constexpr uint32_t kUnmap = VirtioBlk::kWriteZeroesFlagUnmap;
  auto r = rig.discard_like(VirtioBlk::kTypeWriteZeroes, {T{16, 8, 0}, T{64, 16, kUnmap}});
  EXPECT_EQ(r.status, VirtioBlk::kStatusOk);
  EXPECT_EQ(rig.img.contents(16 * 512, 8 * 512), std::vector<uint8_t>(8 * 512, 0));
  EXPECT_EQ(rig.img.contents(64 * 512, 16 * 512), std::vector<uint8_t>(16 * 512, 0));
  EXPECT_EQ(rig.img.contents(24 * 512, 512), pattern(24 * 512, 512));
  EXPECT_EQ(rig.img.contents(15 * 512, 512), pattern(15 * 512, 512));

  EXPECT_EQ(rig.discard_like(VirtioBlk::kTypeDiscard, {T{128, 256, 0}}).status,
            VirtioBlk::kStatusOk);
  EXPECT_EQ(rig.img.file_size(), kImageSize);
  EXPECT_EQ(rig.img.contents(127 * 512, 512), pattern(127 * 512, 512));

  // Spec 5.2.6.2: unmap on a discard and unknown flags are unsupported.
  EXPECT_EQ(rig.discard_like(VirtioBlk::kTypeDiscard, {T{0, 8, kUnmap}}).status,
            VirtioBlk::kStatusUnsupp);
  EXPECT_EQ(rig.discard_like(VirtioBlk::kTypeWriteZeroes, {T{0, 8, 4}}).status,
            VirtioBlk::kStatusUnsupp);
  // Past the end, or a segment beyond the limits: IOERR, and nothing happens to good segments.
  EXPECT_EQ(
      rig.discard_like(VirtioBlk::kTypeWriteZeroes, {T{0, 8, 0}, T{kSectors - 4, 8, 0}}).status,
      VirtioBlk::kStatusIoErr);
  EXPECT_EQ(rig.img.contents(0, 8 * 512), pattern(0, 8 * 512));
  EXPECT_EQ(rig.discard_like(VirtioBlk::kTypeDiscard, {T{~0ull / 512 + 1, 1, 0}}).status,
            VirtioBlk::kStatusIoErr);
  EXPECT_EQ(rig.discard_like(VirtioBlk::kTypeDiscard, {T{0, VirtioBlk::kMaxDiscardSectors + 1, 0}})
                .status,
            VirtioBlk::kStatusIoErr);
  std::vector<T> too_many(VirtioBlk::kMaxDiscardSegments + 1, T{0, 1, 0});
  EXPECT_EQ(rig.discard_like(VirtioBlk::kTypeDiscard, too_many).status, VirtioBlk::kStatusUnsupp);
  // A segment list that is not a whole number of segments.
  uint64_t odd = rig.data(20, 0);
  EXPECT_EQ(rig.request(VirtioBlk::kTypeDiscard, 0, {{odd, 20, false}}).status,
            VirtioBlk::kStatusIoErr);
}

TEST_P(VirtioBlkTest, DiscardWithoutTheFeatureIsUnsupported) {
  MAKE_RIG(rig);
  ASSERT_TRUE(rig.driver->init(kVersion1 | blk_feature(VirtioBlk::kFeatureFlush), 1, 64));
  using T = std::tuple<uint64_t, uint32_t, uint32_t>;
  EXPECT_EQ(rig.discard_like(VirtioBlk::kTypeDiscard, {T{0, 8, 0}}).status,
            VirtioBlk::kStatusUnsupp);
  EXPECT_EQ(rig.discard_like(VirtioBlk::kTypeWriteZeroes, {T{0, 8, 0}}).status,
            VirtioBlk::kStatusUnsupp);
  EXPECT_EQ(rig.img.contents(0, 4096), pattern(0, 4096));
}

TEST_P(VirtioBlkTest, ReadOnlyDrive) {
  MAKE_RIG(rig, VirtioBlk::Options{}, /*read_only=*/true);
  uint64_t f = rig.all_features();
  EXPECT_TRUE(f & blk_feature(VirtioBlk::kFeatureRo));
  EXPECT_FALSE(f & blk_feature(VirtioBlk::kFeatureDiscard));
  EXPECT_FALSE(f & blk_feature(VirtioBlk::kFeatureWriteZeroes));
  ASSERT_TRUE(rig.init());
  uint64_t out = rig.data(512, 0x33);
  EXPECT_EQ(rig.request(VirtioBlk::kTypeOut, 0, {{out, 512, false}}).status,
            VirtioBlk::kStatusIoErr);
  EXPECT_EQ(rig.img.contents(0, 512), pattern(0, 512));
  EXPECT_EQ(rig.request(VirtioBlk::kTypeFlush, 0, {}).status, VirtioBlk::kStatusOk);
  uint64_t in = rig.data(512, 0);
  EXPECT_EQ(rig.request(VirtioBlk::kTypeIn, 1, {{in, 512, true}}).status, VirtioBlk::kStatusOk);
  EXPECT_EQ(rig.guest(in, 512), pattern(512, 512));
}

TEST_P(VirtioBlkTest, MultipleQueues) {
  VirtioBlk::Options o;
  o.num_queues = 4;
  MAKE_RIG(rig, o);
  EXPECT_TRUE(rig.all_features() & blk_feature(VirtioBlk::kFeatureMq));
  EXPECT_EQ(rig.config32(32) >> 16, 4u);  // num_queues
  ASSERT_TRUE(rig.init(4, 16));
  for (uint16_t q : {3, 0, 2, 1}) {
    uint64_t in = rig.data(512, 0);
    auto r = rig.request(VirtioBlk::kTypeIn, q, {{in, 512, true}}, q);
    EXPECT_EQ(r.status, VirtioBlk::kStatusOk) << q;
    EXPECT_EQ(rig.guest(in, 512), pattern(512ull * q, 512)) << q;
  }
}

TEST_P(VirtioBlkTest, OutOfRangeRequestsFailWithIoErr) {
  MAKE_RIG(rig);
  ASSERT_TRUE(rig.init());
  uint64_t buf = rig.data(1024, 0x44);
  EXPECT_EQ(rig.request(VirtioBlk::kTypeIn, kSectors - 1, {{buf, 1024, true}}).status,
            VirtioBlk::kStatusIoErr);
  EXPECT_EQ(rig.request(VirtioBlk::kTypeOut, kSectors - 1, {{buf, 1024, false}}).status,
            VirtioBlk::kStatusIoErr);
  EXPECT_EQ(rig.request(VirtioBlk::kTypeOut, kSectors, {{buf, 512, false}}).status,
            VirtioBlk::kStatusIoErr);
  // sector * 512 would wrap around to a small offset.
  EXPECT_EQ(rig.request(VirtioBlk::kTypeOut, (1ull << 55) + 1, {{buf, 512, false}}).status,
            VirtioBlk::kStatusIoErr);
  EXPECT_EQ(rig.request(VirtioBlk::kTypeIn, ~0ull, {{buf, 512, true}}).status,
            VirtioBlk::kStatusIoErr);
  EXPECT_EQ(rig.img.contents(kImageSize - 1024, 1024), pattern(kImageSize - 1024, 1024));
  EXPECT_EQ(rig.img.contents(512, 512), pattern(512, 512));
  EXPECT_EQ(rig.img.file_size(), kImageSize);
  // The last sector is fine.
  EXPECT_EQ(rig.request(VirtioBlk::kTypeIn, kSectors - 1, {{buf, 512, true}}).status,
            VirtioBlk::kStatusOk);
}

TEST_P(VirtioBlkTest, MalformedRequests) {
  MAKE_RIG(rig);
  ASSERT_TRUE(rig.init());
  TestDriver& d = *rig.driver;
  // Data that is not a whole number of sectors.
  uint64_t buf = rig.data(1000, 0x55);
  EXPECT_EQ(rig.request(VirtioBlk::kTypeOut, 0, {{buf, 1000, false}}).status,
            VirtioBlk::kStatusIoErr);
  EXPECT_EQ(rig.request(VirtioBlk::kTypeIn, 0, {{buf, 100, true}}).status, VirtioBlk::kStatusIoErr);
  EXPECT_EQ(rig.img.contents(0, 1024), pattern(0, 1024));
  // Unknown and unoffered request types.
  for (uint32_t type : {2u, 10u, 14u, 0x77u, 0x80000001u}) {
    EXPECT_EQ(rig.request(type, 0, {}).status, VirtioBlk::kStatusUnsupp) << type;
  }
  // A header shorter than 16 bytes.
  uint64_t st = rig.status_byte();
  d.add_chain(0, {{rig.header(VirtioBlk::kTypeIn, 0), 8, false}, {st, 1, true}});
  d.kick(0);
  auto used = rig.wait_used();
  ASSERT_TRUE(used);
  EXPECT_EQ(rig.ram.load<uint8_t>(st), VirtioBlk::kStatusIoErr);
  // No header at all, only the status byte.
  st = rig.status_byte();
  d.add_chain(0, {{st, 1, true}});
  d.kick(0);
  ASSERT_TRUE(rig.wait_used());
  EXPECT_EQ(rig.ram.load<uint8_t>(st), VirtioBlk::kStatusIoErr);
  // No writable byte for the status: returned with nothing written.
  uint64_t out = rig.data(512, 0x66);
  d.add_chain(0, {{rig.header(VirtioBlk::kTypeOut, 0), 16, false}, {out, 512, false}});
  d.kick(0);
  used = rig.wait_used();
  ASSERT_TRUE(used);
  EXPECT_EQ(used->len, 0u);
  EXPECT_EQ(rig.img.contents(0, 512), pattern(0, 512));
  // A read with only the status byte reads nothing and succeeds.
  EXPECT_EQ(rig.request(VirtioBlk::kTypeIn, 0, {}).status, VirtioBlk::kStatusOk);
  // The device still works, and nobody asked for a reset.
  EXPECT_FALSE(d.status() & kStatusNeedsReset);
  uint64_t in = rig.data(512, 0);
  EXPECT_EQ(rig.request(VirtioBlk::kTypeIn, 3, {{in, 512, true}}).status, VirtioBlk::kStatusOk);
  EXPECT_EQ(rig.guest(in, 512), pattern(3 * 512, 512));
}

TEST_P(VirtioBlkTest, BrokenRingNeedsReset) {
  MAKE_RIG(rig);
  ASSERT_TRUE(rig.init(1, 8));
  TestDriver& d = *rig.driver;
  auto& q = d.queue(0);
  // A descriptor chain that loops, and one pointing outside RAM.
  d.write_desc(q, 0, rig.header(VirtioBlk::kTypeIn, 0), 16, kDescFlagNext, 1);
  d.write_desc(q, 1, kRamBase + kRamSize - 8, 4096, kDescFlagWrite | kDescFlagNext, 0);
  d.make_available(0, 0);
  d.kick(0);
  for (int i = 0; i < 10; ++i) rig.loop.run_once(10);
  EXPECT_TRUE(d.status() & kStatusNeedsReset);
  EXPECT_EQ(rig.blk->in_flight(), 0u);
  // A reset brings it back.
  ASSERT_TRUE(rig.init(1, 8));
  uint64_t in = rig.data(512, 0);
  EXPECT_EQ(rig.request(VirtioBlk::kTypeIn, 0, {{in, 512, true}}).status, VirtioBlk::kStatusOk);
}

TEST_P(VirtioBlkTest, ResetWithRequestsInFlightWritesNoGuestMemoryAfterwards) {
  MAKE_RIG(rig);
  ASSERT_TRUE(rig.init(1, 128));
  TestDriver& d = *rig.driver;
  constexpr int kRequests = 100;
  std::vector<uint64_t> bufs, status;
  for (int i = 0; i < kRequests; ++i) {
    // Unaligned sizes too, so cache=none bounces and copies out after the host read.
    uint32_t len = i % 3 ? 16384 : 15872;
    bufs.push_back(rig.data(len, 0));
    status.push_back(rig.status_byte());
    d.add_chain(0, {{rig.header(VirtioBlk::kTypeIn, 32ull * i + (i % 5)), 16, false},
                    {bufs[i], len, true},
                    {status[i], 1, true}});
  }
  d.kick(0);
  rig.loop.run_once(1000);  // the device pops everything and starts the reads
  uint16_t used_before = d.used_idx(0);
  d.write(reg::kStatus, 0);  // reset
  // Whatever the guest does with its memory now must stay as it is.
  for (int i = 0; i < kRequests; ++i) {
    std::memset(rig.ram.host_ptr(bufs[i], 15872), 0xee, 15872);
    rig.ram.store<uint8_t>(status[i], 0xee);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (rig.blk->in_flight() > 0 && std::chrono::steady_clock::now() < deadline) {
    rig.loop.run_once(10);
  }
  EXPECT_EQ(rig.blk->in_flight(), 0u);
  for (int i = 0; i < kRequests; ++i) {
    ASSERT_EQ(rig.guest(bufs[i], 15872), std::vector<uint8_t>(15872, 0xee)) << i;
    ASSERT_EQ(rig.ram.load<uint8_t>(status[i]), 0xee) << i;
  }
  EXPECT_EQ(d.used_idx(0), used_before);
  // After the reset the device works as new.
  ASSERT_TRUE(rig.init(1, 16));
  uint64_t in = rig.data(512, 0);
  EXPECT_EQ(rig.request(VirtioBlk::kTypeIn, 5, {{in, 512, true}}).status, VirtioBlk::kStatusOk);
  EXPECT_EQ(rig.guest(in, 512), pattern(5 * 512, 512));
}

TEST_P(VirtioBlkTest, WritebackToggleThroughConfig) {
  MAKE_RIG(rig);
  ASSERT_TRUE(rig.init());
  EXPECT_EQ(rig.config8(VirtioBlk::kWritebackOffset), 1);
  uint8_t zero = 0;
  rig.mmio->io_write(reg::kConfig + VirtioBlk::kWritebackOffset, {&zero, 1});
  EXPECT_EQ(rig.config8(VirtioBlk::kWritebackOffset), 0);
  // Writes still complete (each one flushed before it does).
  uint64_t out = rig.data(4096, 0x12);
  EXPECT_EQ(rig.request(VirtioBlk::kTypeOut, 0, {{out, 4096, false}}).status, VirtioBlk::kStatusOk);
  EXPECT_EQ(rig.img.contents(0, 4096), std::vector<uint8_t>(4096, 0x12));
  rig.driver->write(reg::kStatus, 0);
  EXPECT_EQ(rig.config8(VirtioBlk::kWritebackOffset), 1);  // reset restores the default
}

TEST_P(VirtioBlkTest, CapacityRoundsDownToWholeSectors) {
  MAKE_RIG(rig, VirtioBlk::Options{}, false, 4096 + 300);
  EXPECT_EQ(rig.config64(0), 8u);
}

INSTANTIATE_TEST_SUITE_P(Backends, VirtioBlkTest,
                         ::testing::Values(Param{AioMode::kIoUring, CacheMode::kWriteback},
                                           Param{AioMode::kThreads, CacheMode::kWriteback},
                                           Param{AioMode::kIoUring, CacheMode::kNone}),
                         [](const auto& info) {
                           return std::string(info.param.aio == AioMode::kIoUring ? "IoUring"
                                                                                  : "Threads") +
                                  "_" + to_string(info.param.cache);
                         });

TEST(VirtioBlk, RejectsBadOptions) {
  TempImage img(4096);
  EventLoop loop;
  auto make = [&](uint16_t num_queues, uint16_t queue_size) {
    VirtioBlk::Options o;
    o.num_queues = num_queues;
    o.queue_size = queue_size;
    return VirtioBlk(RawDriver::open(img.path(), RawDriver::Options{}, loop), o);
  };
  EXPECT_THROW(make(0, 256), Error);
  EXPECT_THROW(make(65, 256), Error);
  EXPECT_THROW(make(1, 100), Error);
  EXPECT_THROW(make(1, 2), Error);
  EXPECT_NO_THROW(make(2, 1024));
}

}  // namespace
}  // namespace tandem
