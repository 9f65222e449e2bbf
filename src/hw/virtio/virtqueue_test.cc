#include "hw/virtio/virtqueue.h"

#include <gtest/gtest.h>

#include "hw/virtio/virtio_defs.h"

namespace tandem {
namespace {

using namespace virtio;

constexpr uint64_t kDesc = 0x1000, kAvail = 0x2000, kUsed = 0x3000;

// A queue of 4 set up by hand in 64 KiB of RAM at 0, with helpers to write rings.
struct QueueRig {
  explicit QueueRig(uint64_t features = feature_bit(kFeatureIndirectDesc)) : q(ram(), 0, 4) {
    q.set_size(4);
    q.set_desc_addr(kDesc);
    q.set_driver_addr(kAvail);
    q.set_device_addr(kUsed);
    EXPECT_TRUE(q.enable(features));
  }
  GuestRam& ram() {
    if (ram_.regions().empty()) ram_.add_region(0, 0x10000);
    return ram_;
  }
  void desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next = 0) {
    ram_.store(kDesc + 16ull * i, VirtqDesc{addr, len, flags, next});
  }
  void avail(uint16_t head) {
    uint16_t idx = ram_.load<uint16_t>(kAvail + 2);
    ram_.store<uint16_t>(kAvail + 4 + 2 * (idx % 4), head);
    ram_.store<uint16_t>(kAvail + 2, idx + 1);
  }
  GuestRam ram_;
  Virtqueue q;
};

// A driver that refills the ring as fast as the device drains it (as a device writing into
// an overlapping ring would) gets a bounded batch, then the queue says "nothing new" until the
// transport's next batch.
TEST(Virtqueue, BatchesBoundTheWorkOfOneDrain) {
  QueueRig r;
  r.desc(0, 0x8000, 16, 0);
  r.avail(0);
  unsigned popped = 0;
  for (;;) {
    auto req = r.q.pop();
    if (!req) break;
    ++popped;
    r.q.push(*req, 0);
    r.avail(0);  // immediately available again
    ASSERT_LT(popped, 1000u);
  }
  EXPECT_EQ(popped, Virtqueue::kBatchPerEntry * 4);
  EXPECT_TRUE(r.q.batch_exhausted());
  EXPECT_FALSE(r.q.enable_notifications());  // would otherwise send the device round again
  EXPECT_FALSE(r.q.failed());
  r.q.begin_batch();
  EXPECT_FALSE(r.q.batch_exhausted());
  EXPECT_TRUE(r.q.pop().has_value());
}

// The buffers a device may write are reported to RAM's device-write watcher (the translator
// drops code there at the next fence.i); the ones it only reads are not.
TEST(Virtqueue, WritableBuffersAreReportedAsDeviceWrites) {
  QueueRig r;
  std::vector<std::pair<uint64_t, uint64_t>> writes;
  r.ram_.set_device_write_watcher([&](uint64_t gpa, uint64_t len) {
    writes.push_back({gpa, len});
  });
  r.desc(0, 0x8000, 4, kDescFlagNext, 1);
  r.desc(1, 0x9000, 16, kDescFlagWrite);
  r.avail(0);
  ASSERT_TRUE(r.q.pop());
  EXPECT_EQ(writes, (std::vector<std::pair<uint64_t, uint64_t>>{{0x9000, 16}}));
  r.ram_.set_device_write_watcher(nullptr);
}

TEST(Virtqueue, ReadableThenWritableSegments) {
  QueueRig r;
  r.desc(0, 0x8000, 4, kDescFlagNext, 1);
  r.desc(1, 0x8004, 4, kDescFlagNext, 2);
  r.desc(2, 0x9000, 16, kDescFlagWrite);
  r.ram_.store<uint64_t>(0x8000, 0x0807060504030201);
  r.avail(0);
  EXPECT_EQ(r.q.available(), 1);
  auto req = r.q.pop();
  ASSERT_TRUE(req);
  EXPECT_EQ(req->head, 0);
  ASSERT_EQ(req->readable.size(), 2u);
  ASSERT_EQ(req->writable.size(), 1u);
  EXPECT_EQ(req->readable_bytes, 8u);
  EXPECT_EQ(req->writable_bytes, 16u);
  EXPECT_EQ(req->readable[0].iov_base, r.ram_.host_ptr(0x8000, 4));
  uint8_t got[8];
  EXPECT_EQ(req->read(2, got), 6u);  // gathers across the two readable segments
  EXPECT_EQ(got[0], 3);
  EXPECT_EQ(got[5], 8);
  const uint8_t data[20] = {9, 9, 9};
  EXPECT_EQ(req->write(0, data), 16u);  // clipped to the writable size
  EXPECT_FALSE(r.q.pop());
  EXPECT_FALSE(r.q.failed());
}

TEST(Virtqueue, ChainUsingEveryDescriptorIsFine) {
  QueueRig r;
  for (uint16_t i = 0; i < 4; ++i) {
    r.desc(i, 0x8000 + i, 1, i < 3 ? kDescFlagNext : 0, static_cast<uint16_t>(i + 1));
  }
  r.avail(0);
  auto req = r.q.pop();
  ASSERT_TRUE(req);
  EXPECT_EQ(req->readable.size(), 4u);
}

TEST(Virtqueue, BufferSpanningAdjacentRegionsIsSplit) {
  QueueRig r;
  r.ram_.add_region(0x10000, 0x1000);  // touches the end of the first region
  r.desc(0, 0xff00, 0x200, kDescFlagWrite);
  r.avail(0);
  auto req = r.q.pop();
  ASSERT_TRUE(req);
  ASSERT_EQ(req->writable.size(), 2u);
  EXPECT_EQ(req->writable[0].iov_len, 0x100u);
  EXPECT_EQ(req->writable[1].iov_base, r.ram_.host_ptr(0x10000, 1));
  EXPECT_EQ(req->writable_bytes, 0x200u);
}

TEST(Virtqueue, ZeroLengthDescriptorsAreSkipped) {
  QueueRig r;
  r.desc(0, 0, 0, kDescFlagNext, 1);
  r.desc(1, 0xdead0000, 0, kDescFlagWrite);  // length 0: its address is never used
  r.avail(0);
  auto req = r.q.pop();
  ASSERT_TRUE(req);
  EXPECT_TRUE(req->readable.empty());
  EXPECT_TRUE(req->writable.empty());
}

TEST(Virtqueue, UsedRingAndEventIdx) {
  QueueRig r(feature_bit(kFeatureEventIdx));
  r.desc(0, 0x8000, 8, kDescFlagWrite);
  r.avail(0);
  auto req = r.q.pop();
  ASSERT_TRUE(req);
  EXPECT_EQ(r.ram_.load<uint16_t>(kUsed + 4 + 8 * 4), 1);  // avail_event follows last_avail
  EXPECT_TRUE(r.q.push(*req, 3));
  EXPECT_EQ(r.ram_.load<uint16_t>(kUsed + 2), 1);
  EXPECT_EQ(r.ram_.load<uint32_t>(kUsed + 4), 0u);  // id
  EXPECT_EQ(r.ram_.load<uint32_t>(kUsed + 8), 3u);  // len
  EXPECT_TRUE(r.q.needs_interrupt());               // first one always
  EXPECT_FALSE(r.q.needs_interrupt());              // nothing new pushed
  // A push while notifications are "disabled" then enable_notifications sees the new buffer.
  r.q.disable_notifications();
  r.avail(0);
  EXPECT_TRUE(r.q.enable_notifications());
  auto again = r.q.pop();
  ASSERT_TRUE(again);
  EXPECT_FALSE(r.q.enable_notifications());
}

// A batch of elements pushed unpublished stays invisible to the driver (used idx unchanged)
// until publish_used(), which also makes them count for the interrupt decision.
TEST(Virtqueue, UnpublishedPushesAppearTogether) {
  QueueRig r(feature_bit(kFeatureEventIdx));
  r.desc(0, 0x8000, 8, kDescFlagWrite);
  r.desc(1, 0x8100, 8, kDescFlagWrite);
  r.avail(0);
  r.avail(1);
  auto a = r.q.pop(), b = r.q.pop();
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(r.q.push_used(a->head, a->generation, 1, false));
  EXPECT_TRUE(r.q.push_used(b->head, b->generation, 2, false));
  EXPECT_EQ(r.ram_.load<uint16_t>(kUsed + 2), 0);
  EXPECT_FALSE(r.q.needs_interrupt());  // nothing the driver can see yet
  r.q.publish_used();
  EXPECT_EQ(r.ram_.load<uint16_t>(kUsed + 2), 2);
  EXPECT_EQ(r.ram_.load<uint32_t>(kUsed + 4), 0u);   // first id
  EXPECT_EQ(r.ram_.load<uint32_t>(kUsed + 12), 1u);  // second id
  EXPECT_EQ(r.ram_.load<uint32_t>(kUsed + 16), 2u);  // its len
  EXPECT_TRUE(r.q.needs_interrupt());
}

// The look-ahead before popping follows heads and next fields the driver controls: bad ones
// (out of the table, loops, indirect tables outside RAM, an index far ahead) neither fault nor
// change what pop() then reports.
TEST(Virtqueue, PrefetchIgnoresMalformedChains) {
  QueueRig r;
  r.desc(0, 0x8000, 8, kDescFlagNext, 0);  // loops on itself
  r.desc(1, 0xfffffff0, 8, kDescFlagIndirect);
  r.desc(2, 0x8000, 8, kDescFlagNext, 999);
  r.ram_.store<uint16_t>(kAvail + 4, 0);
  r.ram_.store<uint16_t>(kAvail + 6, 1);
  r.ram_.store<uint16_t>(kAvail + 8, 2);
  r.ram_.store<uint16_t>(kAvail + 10, 7);  // head out of range
  r.ram_.store<uint16_t>(kAvail + 2, 4);
  r.q.prefetch_available();
  EXPECT_FALSE(r.q.failed());
  EXPECT_FALSE(r.q.pop());  // the looping chain is refused by pop() itself
  EXPECT_TRUE(r.q.failed());
  r.q.prefetch_available();  // a failed queue is left alone

  QueueRig far;
  far.ram_.store<uint16_t>(kAvail + 2, 100);  // more than the queue size ahead
  far.q.prefetch_available();
  EXPECT_FALSE(far.q.failed());
  EXPECT_FALSE(far.q.pop());
  EXPECT_TRUE(far.q.failed());
}

TEST(Virtqueue, NoNotifyFlagWithoutEventIdx) {
  QueueRig r(0);
  r.q.disable_notifications();
  EXPECT_EQ(r.ram_.load<uint16_t>(kUsed), kUsedFlagNoNotify);
  EXPECT_FALSE(r.q.enable_notifications());
  EXPECT_EQ(r.ram_.load<uint16_t>(kUsed), 0);
}

// While the transport polls the ring, the device's own drain loop must not turn the driver's
// notifications back on; once polling ends, enable_notifications does.
TEST(Virtqueue, PolledQueueKeepsNotificationsOff) {
  for (uint64_t features : {uint64_t{0}, feature_bit(kFeatureEventIdx)}) {
    QueueRig r(features);
    const bool event_idx = features != 0;
    r.q.set_polled(true);
    if (!event_idx) {
      EXPECT_EQ(r.ram_.load<uint16_t>(kUsed), kUsedFlagNoNotify);
    }
    r.desc(0, 0x8000, 8, kDescFlagWrite);
    r.avail(0);
    EXPECT_TRUE(r.q.enable_notifications());  // "more to do", and still off
    ASSERT_TRUE(r.q.pop());
    EXPECT_FALSE(r.q.enable_notifications());
    if (!event_idx) {
      EXPECT_EQ(r.ram_.load<uint16_t>(kUsed), kUsedFlagNoNotify);
    } else {
      // avail_event lies behind everything popped: the driver's next buffers (avail idx 1 -> 2,
      // and on) do not kick (vring_need_event(event, new, old) is false).
      uint16_t event = r.ram_.load<uint16_t>(kUsed + 4 + 8 * 4);
      EXPECT_EQ(event, 0xffff);
      for (uint16_t old_idx = 1; old_idx < 8; ++old_idx) {
        uint16_t new_idx = old_idx + 1;
        EXPECT_FALSE(static_cast<uint16_t>(new_idx - event - 1) <
                     static_cast<uint16_t>(new_idx - old_idx));
      }
    }
    r.q.set_polled(false);
    EXPECT_FALSE(r.q.enable_notifications());
    if (!event_idx) {
      EXPECT_EQ(r.ram_.load<uint16_t>(kUsed), 0);
    } else {
      EXPECT_EQ(r.ram_.load<uint16_t>(kUsed + 4 + 8 * 4), 1);
    }
  }
}

TEST(Virtqueue, StaleRequestIsNotPushed) {
  QueueRig r;
  r.desc(0, 0x8000, 8, kDescFlagWrite);
  r.avail(0);
  auto req = r.q.pop();
  ASSERT_TRUE(req);
  r.q.disable();
  EXPECT_FALSE(r.q.push(*req, 8));
  ASSERT_TRUE(r.q.enable(0));
  EXPECT_FALSE(r.q.push(*req, 8));  // a new incarnation of the queue
  EXPECT_EQ(r.ram_.load<uint16_t>(kUsed + 2), 0);
}

TEST(Virtqueue, SetupIsFrozenWhileReady) {
  QueueRig r;
  r.q.set_desc_addr(0x5000);
  r.q.set_size(2);
  EXPECT_EQ(r.q.desc_addr(), kDesc);
  EXPECT_EQ(r.q.size(), 4);
}

TEST(Virtqueue, FailureIsStickyUntilReset) {
  QueueRig r;
  r.desc(0, 0x100000, 8, kDescFlagWrite);  // outside RAM
  r.avail(0);
  EXPECT_FALSE(r.q.pop());
  EXPECT_TRUE(r.q.failed());
  EXPECT_NE(r.q.error().find("outside RAM"), std::string::npos);
  r.desc(0, 0x8000, 8, kDescFlagWrite);
  EXPECT_FALSE(r.q.pop());
  r.q.reset();
  EXPECT_FALSE(r.q.failed());
  EXPECT_FALSE(r.q.ready());
}

TEST(Virtqueue, SaveAndRestore) {
  QueueRig r;
  r.desc(0, 0x8000, 8, kDescFlagWrite);
  r.avail(0);
  auto req = r.q.pop();
  r.q.push(*req, 8);
  VirtqueueState s = r.q.save();
  EXPECT_TRUE(s.ready);
  EXPECT_EQ(s.last_avail_idx, 1);
  EXPECT_EQ(s.used_idx, 1);
  Virtqueue copy(r.ram_, 0, 4);
  ASSERT_TRUE(copy.restore(s));
  r.avail(0);
  auto next = copy.pop();
  ASSERT_TRUE(next);
  copy.push(*next, 8);
  EXPECT_EQ(r.ram_.load<uint16_t>(kUsed + 2), 2);
  s.device_addr = 0x100000;  // a snapshot whose rings no longer fit RAM
  Virtqueue bad(r.ram_, 0, 4);
  EXPECT_FALSE(bad.restore(s));
}

}  // namespace
}  // namespace tandem
