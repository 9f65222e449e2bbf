#include "hw/virtio/virtio_mmio.h"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <thread>

#include "base/event_loop.h"
#include "hw/virtio/rng/virtio_rng.h"
#include "hw/virtio/test_driver.h"
#include "hw/virtio/virtio_defs.h"

namespace tandem {
namespace {

using namespace virtio;
using testing::Buf;
using testing::FakeIrq;
using testing::TestDriver;
namespace reg = testing;

constexpr uint64_t kRamBase = 0x80000000;
constexpr uint64_t kRamSize = 1 << 20;
constexpr uint64_t kVersion1 = feature_bit(kFeatureVersion1);
constexpr uint64_t kEventIdx = feature_bit(kFeatureEventIdx);
constexpr uint64_t kIndirect = feature_bit(kFeatureIndirectDesc);

// A block-type device with one queue of 16 and an empty config space.
class OneQueueDevice : public VirtioDevice {
 public:
  uint32_t device_id() const override { return kDeviceIdBlock; }
  uint64_t device_features() const override { return 0; }
  uint16_t num_queues() const override { return 1; }
  uint16_t queue_num_max(uint16_t) const override { return 16; }
  void read_config(uint64_t, std::span<uint8_t> data) override {
    std::fill(data.begin(), data.end(), 0);
  }
};

// Pops every request and keeps it, so tests can complete them later, in any order, the way a
// block device with io_uring does.
class HoldingDevice final : public OneQueueDevice {
 public:
  void process_queue(Virtqueue& queue) override {
    while (auto r = queue.pop()) held.push_back(std::move(*r));
  }
  void reset() override { ++resets; }
  void complete(size_t i, uint32_t written) { transport().complete(held.at(i), written); }
  void complete_with_status(size_t i, uint32_t written, uint8_t status) {
    transport().complete_with_status(held.at(i), written, status);
  }

  std::vector<VirtqRequest> held;
  int resets = 0;
};

// Answers every request at once and lets the I/O thread poll its queue.
class PolledDevice final : public OneQueueDevice {
 public:
  void process_queue(Virtqueue& queue) override {
    do {
      queue.disable_notifications();
      while (auto r = queue.pop()) queue.push(*r, 1);
    } while (queue.enable_notifications());
  }
  void reset() override {}
  bool pollable() const override { return true; }
};

template <typename Device>
struct Rig {
  explicit Rig(VirtioMmio::Options options = {}) {
    ram.add_region(kRamBase, kRamSize);
    auto dev = std::make_unique<Device>();
    device = dev.get();
    mmio = VirtioMmio::create(std::move(dev), ram, irq, loop, options);
    driver.emplace(*mmio, ram, kRamBase, kRamSize);
  }
  // Runs the I/O thread's work on the test thread until nothing is left.
  void drain() {
    while (loop.run_once(0) > 0) {
    }
  }
  uint8_t* host(uint64_t gpa) { return ram.host_ptr(gpa, 1); }

  GuestRam ram;
  FakeIrq irq;
  EventLoop loop;
  Device* device;
  std::shared_ptr<VirtioMmio> mmio;
  std::optional<TestDriver> driver;
};

TEST(VirtioMmio, IdentificationRegisters) {
  Rig<VirtioRng> rig;
  TestDriver& d = *rig.driver;
  EXPECT_EQ(d.read(reg::kMagic), 0x74726976u);
  EXPECT_EQ(d.read(reg::kVersion), 2u);
  EXPECT_EQ(d.read(reg::kDeviceId), kDeviceIdEntropy);
  EXPECT_EQ(d.read(reg::kVendorId), VirtioMmio::kVendorId);
  uint64_t f = d.device_features();
  EXPECT_TRUE(f & kVersion1);
  EXPECT_TRUE(f & kEventIdx);
  EXPECT_TRUE(f & kIndirect);
  d.write(reg::kDeviceFeaturesSel, 2);
  EXPECT_EQ(d.read(reg::kDeviceFeatures), 0u);
  d.write(reg::kQueueSel, 0);
  EXPECT_EQ(d.read(reg::kQueueNumMax), VirtioRng::kQueueSize);
  d.write(reg::kQueueSel, 1);
  EXPECT_EQ(d.read(reg::kQueueNumMax), 0u);  // no such queue
  d.write(reg::kShmSel, 0);
  EXPECT_EQ(d.read(reg::kShmLenLow), 0xffffffffu);  // no shared memory region: length -1
  EXPECT_EQ(d.read(reg::kShmLenHigh), 0xffffffffu);
  // Only aligned 32-bit register accesses are defined; a byte read sees zero.
  uint8_t byte = 0xaa;
  rig.mmio->io_read(reg::kMagic, {&byte, 1});
  EXPECT_EQ(byte, 0);
}

TEST(VirtioMmio, FeaturesOkRequiresVersion1) {
  Rig<VirtioRng> rig;
  EXPECT_FALSE(rig.driver->negotiate(kEventIdx));
  EXPECT_FALSE(rig.driver->status() & kStatusFeaturesOk);
  // DRIVER_OK without FEATURES_OK is not taken either.
  rig.driver->driver_ok();
  EXPECT_FALSE(rig.driver->status() & kStatusDriverOk);
  EXPECT_TRUE(rig.driver->negotiate(kVersion1));
}

TEST(VirtioMmio, FeaturesOkRejectsFeaturesNotOffered) {
  Rig<VirtioRng> rig;
  EXPECT_FALSE(rig.driver->negotiate(kVersion1 | feature_bit(34)));  // RING_PACKED: not offered
  EXPECT_TRUE(rig.driver->negotiate(kVersion1 | kEventIdx | kIndirect));
  // Once FEATURES_OK is set, the features are frozen.
  rig.driver->write(reg::kDriverFeaturesSel, 0);
  rig.driver->write(reg::kDriverFeatures, 0);
  EXPECT_EQ(rig.mmio->save().driver_features, kVersion1 | kEventIdx | kIndirect);
}

class RngTest : public ::testing::TestWithParam<bool> {
 protected:
  uint64_t features() const { return kVersion1 | (GetParam() ? kEventIdx : 0); }
};

TEST_P(RngTest, FillsBuffersAndInterrupts) {
  Rig<VirtioRng> rig;
  TestDriver& d = *rig.driver;
  ASSERT_TRUE(d.init(features(), 1, 8));
  uint64_t buf = d.alloc(64);
  uint16_t head = d.add_chain(0, {{buf, 64, true}});
  d.kick(0);
  EXPECT_FALSE(rig.irq.level);  // nothing happens until the I/O thread runs
  rig.drain();
  auto used = d.get_used(0);
  ASSERT_TRUE(used);
  EXPECT_EQ(used->id, head);
  EXPECT_EQ(used->len, 64u);
  std::array<uint8_t, 64> zero{};
  EXPECT_NE(std::memcmp(rig.host(buf), zero.data(), 64), 0);
  EXPECT_TRUE(rig.irq.level);
  EXPECT_EQ(d.ack_interrupt(), kInterruptUsedBuffer);
  EXPECT_FALSE(rig.irq.level);
  EXPECT_FALSE(d.get_used(0));

  // A chain of two writable buffers, then an indirect one when negotiated.
  uint64_t a = d.alloc(16), b = d.alloc(32);
  head = d.add_chain(0, {{a, 16, true}, {b, 32, true}});
  d.kick(0);
  rig.drain();
  used = d.get_used(0);
  ASSERT_TRUE(used);
  EXPECT_EQ(used->id, head);
  EXPECT_EQ(used->len, 48u);
  EXPECT_TRUE(rig.irq.level);
  d.ack_interrupt();
}

TEST_P(RngTest, ManyRequestsWrapTheRings) {
  Rig<VirtioRng> rig;
  TestDriver& d = *rig.driver;
  ASSERT_TRUE(d.init(features(), 1, 4));
  uint64_t buf = d.alloc(8);
  // 40 rounds through a 4-entry ring: indices wrap many times.
  for (int i = 0; i < 40; ++i) {
    uint16_t head = d.add_chain(0, {{buf, 8, true}});
    d.set_used_event(0, d.queue(0).last_used);
    d.kick(0);
    rig.drain();
    auto used = d.get_used(0);
    ASSERT_TRUE(used) << i;
    EXPECT_EQ(used->id, head);
    EXPECT_TRUE(rig.irq.level) << i;
    d.ack_interrupt();
  }
  EXPECT_EQ(d.used_idx(0), 40);
}

TEST_P(RngTest, InterruptSuppression) {
  Rig<VirtioRng> rig;
  TestDriver& d = *rig.driver;
  ASSERT_TRUE(d.init(features(), 1, 8));
  uint64_t buf = d.alloc(8);
  if (GetParam()) {
    // EVENT_IDX: used_event = 5 means "interrupt me when used idx passes 5".
    d.set_used_event(0, 5);
    d.add_chain(0, {{buf, 8, true}});  // the first notification is always sent
    d.kick(0);
    rig.drain();
    EXPECT_TRUE(rig.irq.level);
    d.ack_interrupt();
    for (int i = 0; i < 4; ++i) {  // used idx 2..5: still not past used_event
      d.add_chain(0, {{buf, 8, true}});
      d.kick(0);
      rig.drain();
      EXPECT_FALSE(rig.irq.level) << i;
    }
    d.add_chain(0, {{buf, 8, true}});  // used idx 6 crosses used_event + 1
    d.kick(0);
    rig.drain();
    EXPECT_TRUE(rig.irq.level);
    EXPECT_EQ(d.used_idx(0), 6);
    // The device asks to be kicked for the next new entry: avail_event = last avail idx.
    EXPECT_EQ(d.avail_event(0), 6);
  } else {
    d.set_avail_flags(0, kAvailFlagNoInterrupt);
    d.add_chain(0, {{buf, 8, true}});
    d.kick(0);
    rig.drain();
    EXPECT_EQ(d.used_idx(0), 1);
    EXPECT_FALSE(rig.irq.level);
    EXPECT_EQ(d.read(reg::kInterruptStatus), 0u);
    d.set_avail_flags(0, 0);
    d.add_chain(0, {{buf, 8, true}});
    d.kick(0);
    rig.drain();
    EXPECT_TRUE(rig.irq.level);
    EXPECT_EQ(d.used_flags(0), 0);  // notifications re-enabled after draining
  }
}

INSTANTIATE_TEST_SUITE_P(EventIdx, RngTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "EventIdx" : "NoEventIdx"; });

TEST(VirtioMmio, NotHandledBeforeDriverOkThenCaughtUp) {
  Rig<VirtioRng> rig;
  TestDriver& d = *rig.driver;
  ASSERT_TRUE(d.negotiate(kVersion1));
  d.setup_queue(0, 8);
  uint64_t buf = d.alloc(8);
  d.add_chain(0, {{buf, 8, true}});
  d.kick(0);
  rig.drain();
  EXPECT_EQ(d.used_idx(0), 0);  // no buffer is used before DRIVER_OK
  d.driver_ok();
  rig.drain();
  EXPECT_EQ(d.used_idx(0), 1);
}

TEST(VirtioMmio, ResetClearsEverything) {
  Rig<VirtioRng> rig;
  TestDriver& d = *rig.driver;
  ASSERT_TRUE(d.init(kVersion1, 1, 8));
  d.add_chain(0, {{d.alloc(8), 8, true}});
  d.kick(0);
  rig.drain();
  EXPECT_TRUE(rig.irq.level);
  d.write(reg::kStatus, 0);
  EXPECT_EQ(d.status(), 0u);
  EXPECT_EQ(d.read(reg::kInterruptStatus), 0u);
  EXPECT_FALSE(rig.irq.level);
  d.write(reg::kQueueSel, 0);
  EXPECT_EQ(d.read(reg::kQueueReady), 0u);
  EXPECT_EQ(d.read(reg::kQueueNum), VirtioRng::kQueueSize);
  EXPECT_EQ(d.read(reg::kQueueDescLow), 0u);
  // And it comes back to life with fresh rings.
  ASSERT_TRUE(d.init(kVersion1, 1, 8));
  d.add_chain(0, {{d.alloc(8), 8, true}});
  d.kick(0);
  rig.drain();
  EXPECT_EQ(d.used_idx(0), 1);
}

TEST(VirtioMmio, IoeventfdNotifiesWithoutRegisterWrite) {
  Rig<VirtioRng> rig;
  TestDriver& d = *rig.driver;
  ASSERT_TRUE(rig.mmio->wants_ioeventfd());
  int fd = rig.mmio->notify_eventfd(0);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(rig.mmio->notify_eventfd(1), -1);
  ASSERT_TRUE(d.init(kVersion1, 1, 8));
  rig.drain();
  d.add_chain(0, {{d.alloc(8), 8, true}});
  uint64_t one = 1;  // what KVM does when the guest writes QueueNotify
  ASSERT_EQ(::write(fd, &one, sizeof one), 8);
  rig.drain();
  EXPECT_EQ(d.used_idx(0), 1);
}

TEST(VirtioMmio, PostedNotificationsWithoutEventfds) {
  Rig<VirtioRng> rig(VirtioMmio::Options{.ioeventfd = false});
  TestDriver& d = *rig.driver;
  EXPECT_FALSE(rig.mmio->wants_ioeventfd());
  EXPECT_EQ(rig.mmio->notify_eventfd(0), -1);
  ASSERT_TRUE(d.init(kVersion1, 1, 8));
  d.add_chain(0, {{d.alloc(8), 8, true}});
  d.kick(0);
  rig.drain();
  EXPECT_EQ(d.used_idx(0), 1);
}

TEST(VirtioMmio, AsynchronousOutOfOrderCompletion) {
  Rig<HoldingDevice> rig;
  TestDriver& d = *rig.driver;
  ASSERT_TRUE(d.init(kVersion1 | kEventIdx, 1, 8));
  uint64_t in = d.alloc(4), out0 = d.alloc(8), out1 = d.alloc(8);
  uint16_t h0 = d.add_chain(0, {{in, 4, false}, {out0, 8, true}});
  uint16_t h1 = d.add_chain(0, {{in, 4, false}, {out1, 8, true}});
  d.kick(0);
  rig.drain();
  ASSERT_EQ(rig.device->held.size(), 2u);
  EXPECT_EQ(d.used_idx(0), 0);
  EXPECT_FALSE(rig.irq.level);
  rig.device->complete(1, 5);  // the second finishes first
  auto used = d.get_used(0);
  ASSERT_TRUE(used);
  EXPECT_EQ(used->id, h1);
  EXPECT_EQ(used->len, 5u);
  EXPECT_TRUE(rig.irq.level);
  d.ack_interrupt();
  d.set_used_event(0, 1);
  rig.device->complete(0, 1000);  // clamped to the writable size
  used = d.get_used(0);
  ASSERT_TRUE(used);
  EXPECT_EQ(used->id, h0);
  EXPECT_EQ(used->len, 8u);
  EXPECT_TRUE(rig.irq.level);
}

// Completions from the I/O thread's callbacks (a reap of io_uring's completion queue) are pushed
// together, with one interrupt decision, after the loop's round.
TEST(VirtioMmio, CompletionsFromLoopCallbacksShareOneInterrupt) {
  Rig<HoldingDevice> rig;
  TestDriver& d = *rig.driver;
  ASSERT_TRUE(d.init(kVersion1, 1, 8));
  for (int i = 0; i < 3; ++i) d.add_chain(0, {{d.alloc(8), 8, true}});
  d.kick(0);
  rig.drain();
  ASSERT_EQ(rig.device->held.size(), 3u);
  ASSERT_FALSE(rig.irq.level);
  int raised = rig.irq.raised;
  bool level_inside = true;
  uint16_t used_inside = 0;
  rig.loop.post([&] {
    for (size_t i = 0; i < 3; ++i) rig.device->complete(i, 8);
    level_inside = rig.irq.level;
    used_inside = d.used_idx(0);
  });
  rig.drain();
  EXPECT_EQ(used_inside, 0);  // nothing is pushed inside the round...
  EXPECT_FALSE(level_inside);
  EXPECT_EQ(d.used_idx(0), 3);  // ...the used elements and the interrupt come after it,
  EXPECT_TRUE(rig.irq.level);
  EXPECT_EQ(rig.irq.raised, raised + 1);  // one for the three
  EXPECT_EQ(d.read(reg::kInterruptStatus), kInterruptUsedBuffer);
}

TEST(VirtioMmio, CompletionAfterResetIsDropped) {
  Rig<HoldingDevice> rig;
  TestDriver& d = *rig.driver;
  ASSERT_TRUE(d.init(kVersion1, 1, 8));
  d.add_chain(0, {{d.alloc(8), 8, true}});
  d.kick(0);
  rig.drain();
  ASSERT_EQ(rig.device->held.size(), 1u);
  int resets = rig.device->resets;
  ASSERT_TRUE(d.init(kVersion1, 1, 8));  // resets and sets up new rings
  EXPECT_EQ(rig.device->resets, resets + 1);
  rig.device->complete(0, 8);  // the I/O finished after the reset: must not touch new rings
  EXPECT_EQ(d.used_idx(0), 0);
  EXPECT_FALSE(rig.irq.level);
}

// The status byte goes with the used element: written only if the request is still current.
TEST(VirtioMmio, CompleteWithStatusWritesTheLastWritableByte) {
  Rig<HoldingDevice> rig;
  TestDriver& d = *rig.driver;
  ASSERT_TRUE(d.init(kVersion1, 1, 8));
  uint64_t data = d.alloc(8), status = d.alloc(1);
  *rig.host(status) = 0xff;
  uint16_t head = d.add_chain(0, {{d.alloc(16), 16, false}, {data, 8, true}, {status, 1, true}});
  d.kick(0);
  rig.drain();
  ASSERT_EQ(rig.device->held.size(), 1u);
  rig.device->complete_with_status(0, 9, 0x42);  // not from a loop callback: at once
  EXPECT_EQ(*rig.host(status), 0x42);
  auto used = d.get_used(0);
  ASSERT_TRUE(used);
  EXPECT_EQ(used->id, head);
  EXPECT_EQ(used->len, 9u);
  // From a loop callback: at the end of the round.
  d.add_chain(0, {{d.alloc(16), 16, false}, {data, 8, true}, {status, 1, true}});
  d.kick(0);
  rig.drain();
  ASSERT_EQ(rig.device->held.size(), 2u);
  uint8_t status_inside = 0;
  rig.loop.post([&] {
    rig.device->complete_with_status(1, 1, 0x07);
    status_inside = *rig.host(status);
  });
  rig.drain();
  EXPECT_EQ(status_inside, 0x42);
  EXPECT_EQ(*rig.host(status), 0x07);
  EXPECT_EQ(d.used_idx(0), 2);
}

// A reset between a loop callback's completion and the end of its round: the request belongs to
// the driver's old rings, and its status byte may be memory the driver uses for something else.
TEST(VirtioMmio, ResetBeforeTheBatchIsPushedDropsItsCompletions) {
  Rig<HoldingDevice> rig;
  TestDriver& d = *rig.driver;
  ASSERT_TRUE(d.init(kVersion1, 1, 8));
  uint64_t status = d.alloc(1);
  d.add_chain(0, {{d.alloc(8), 8, true}, {status, 1, true}});
  d.add_chain(0, {{d.alloc(8), 8, true}});
  d.kick(0);
  rig.drain();
  ASSERT_EQ(rig.device->held.size(), 2u);
  *rig.host(status) = 0xee;
  rig.loop.post([&] {
    rig.device->complete_with_status(0, 9, 0);
    rig.device->complete(1, 8);
    d.write(reg::kStatus, 0);  // a vCPU resets the device before the round ends
  });
  rig.drain();
  EXPECT_EQ(*rig.host(status), 0xee);
  EXPECT_EQ(d.used_idx(0), 0);
  EXPECT_FALSE(rig.irq.level);
  // A queue disabled meanwhile (QueueReady = 0) drops them as well.
  ASSERT_TRUE(d.init(kVersion1, 1, 8));
  d.add_chain(0, {{d.alloc(8), 8, true}, {status, 1, true}});
  d.kick(0);
  rig.drain();
  ASSERT_EQ(rig.device->held.size(), 3u);
  rig.loop.post([&] {
    rig.device->complete_with_status(2, 9, 0);
    d.write(reg::kQueueSel, 0);
    d.write(reg::kQueueReady, 0);
  });
  rig.drain();
  EXPECT_EQ(*rig.host(status), 0xee);
  EXPECT_EQ(d.used_idx(0), 0);
}

TEST(VirtioMmio, IoThreadAndVcpuThreadConcurrently) {
  GuestRam ram;
  ram.add_region(kRamBase, kRamSize);
  FakeIrq irq;  // only touched under the transport's lock
  IoThread io;
  auto mmio = VirtioMmio::create(std::make_unique<VirtioRng>(), ram, irq, io.loop());
  TestDriver d(*mmio, ram, kRamBase, kRamSize);
  ASSERT_TRUE(d.init(kVersion1 | kEventIdx, 1, 16));
  uint64_t buf = d.alloc(16 * 32);
  // The "vCPU" keeps up to 16 requests in flight and reaps completions as they come.
  int submitted = 0, completed = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (completed < 2000 && std::chrono::steady_clock::now() < deadline) {
    while (submitted - completed < 16 && submitted < 2000) {
      d.add_chain(0, {{buf + 32 * (submitted % 16), 32, true}});
      ++submitted;
      d.kick(0);
    }
    while (auto used = d.get_used(0)) {
      EXPECT_EQ(used->len, 32u);
      ++completed;
    }
  }
  EXPECT_EQ(completed, 2000);
  EXPECT_FALSE(d.status() & kStatusNeedsReset);
}

// The I/O thread spins on a pollable device's rings after work: a buffer the driver adds
// without kicking is still served, and the driver is told not to kick meanwhile. With
// polling off, the same buffer waits for its kick.
TEST(VirtioMmio, IoThreadPollsPollableDevices) {
  for (bool polling : {true, false}) {
    GuestRam ram;
    ram.add_region(kRamBase, kRamSize);
    FakeIrq irq;
    IoThread io;
    // Long enough that the spin cannot end on its own while the test looks.
    io.loop().set_poll_max_ns(polling ? 2'000'000'000 : 0);
    auto mmio = VirtioMmio::create(std::make_unique<PolledDevice>(), ram, irq, io.loop());
    TestDriver d(*mmio, ram, kRamBase, kRamSize);
    ASSERT_TRUE(d.init(kVersion1, 1, 8));
    uint64_t buf = d.alloc(64);
    auto wait_used = [&](uint16_t n, std::chrono::milliseconds limit) {
      auto deadline = std::chrono::steady_clock::now() + limit;
      while (d.used_idx(0) != n && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::yield();
      }
      return d.used_idx(0) == n;
    };
    d.add_chain(0, {{buf, 8, true}});
    d.kick(0);
    ASSERT_TRUE(wait_used(1, std::chrono::seconds(5)));
    // Without polling, let the I/O thread finish its drain loop first: a buffer added while it
    // still drains is served without a kick, as virtio allows.
    if (!polling) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    d.add_chain(0, {{buf + 8, 8, true}});  // no kick
    if (polling) {
      EXPECT_TRUE(wait_used(2, std::chrono::seconds(1)));
      // The spin goes on (each new one turns notifications off again): the driver is told not
      // to kick. Between two spins they are briefly on, so look for a moment.
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
      while (d.used_flags(0) != kUsedFlagNoNotify && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::yield();
      }
      EXPECT_EQ(d.used_flags(0), kUsedFlagNoNotify);
    } else {
      EXPECT_FALSE(wait_used(2, std::chrono::milliseconds(100)));
      EXPECT_EQ(d.used_flags(0), 0);
      d.kick(0);
      EXPECT_TRUE(wait_used(2, std::chrono::seconds(5)));
    }
    io.stop();
  }
}

TEST(VirtioMmio, SnapshotRestoresQueuePositions) {
  Rig<VirtioRng> rig;
  TestDriver& d = *rig.driver;
  ASSERT_TRUE(d.init(kVersion1 | kEventIdx, 1, 8));
  uint64_t buf = d.alloc(8);
  for (int i = 0; i < 3; ++i) d.add_chain(0, {{buf, 8, true}});
  d.kick(0);
  rig.drain();
  VirtioState state = rig.mmio->save();
  EXPECT_EQ(state.queues[0].last_avail_idx, 3);
  EXPECT_EQ(state.queues[0].used_idx, 3);

  // A second transport over the same RAM picks up where the first left off.
  FakeIrq irq2;
  EventLoop loop2;
  auto mmio2 = VirtioMmio::create(std::make_unique<VirtioRng>(), rig.ram, irq2, loop2);
  mmio2->restore(state);
  EXPECT_TRUE(irq2.level);  // the interrupt was pending when saved
  EXPECT_EQ(mmio2->status(), state.status);
  d.add_chain(0, {{buf, 8, true}});
  uint32_t notify = 0;
  mmio2->io_write(reg::kQueueNotify, {reinterpret_cast<uint8_t*>(&notify), 4});
  while (loop2.run_once(0) > 0) {
  }
  EXPECT_EQ(d.used_idx(0), 4);
}

// --- Malformed rings: each one sets NEEDS_RESET, raises a config interrupt, uses nothing. ----

class Malformed : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(d().init(kVersion1 | kIndirect, 1, 8));
    buf_ = d().alloc(64);
  }
  TestDriver& d() { return *rig_.driver; }
  // Kicks, runs the device, and checks the error path.
  void expect_needs_reset() {
    d().kick(0);
    rig_.drain();
    EXPECT_TRUE(d().status() & kStatusNeedsReset);
    EXPECT_EQ(d().read(reg::kInterruptStatus), kInterruptConfigChange);
    EXPECT_TRUE(rig_.irq.level);
    EXPECT_EQ(d().used_idx(0), 0);
    // Further kicks do nothing; a reset brings the device back.
    d().kick(0);
    rig_.drain();
    EXPECT_EQ(d().used_idx(0), 0);
    ASSERT_TRUE(d().init(kVersion1 | kIndirect, 1, 8));
    EXPECT_FALSE(d().status() & kStatusNeedsReset);
    d().add_chain(0, {{buf_, 8, true}});
    d().kick(0);
    rig_.drain();
    EXPECT_EQ(d().used_idx(0), 1);
  }
  TestDriver::Queue& q() { return d().queue(0); }
  void avail(uint16_t head) { d().make_available(0, head); }

  Rig<VirtioRng> rig_;
  uint64_t buf_ = 0;
};

TEST_F(Malformed, DescriptorOutsideRam) {
  d().add_chain(0, {{0x1000, 64, true}});
  expect_needs_reset();
}

TEST_F(Malformed, DescriptorStraddlesEndOfRam) {
  d().add_chain(0, {{kRamBase + kRamSize - 8, 16, true}});
  expect_needs_reset();
}

TEST_F(Malformed, LengthOverflowsAddressSpace) {
  d().add_chain(0, {{~uint64_t{0} - 0xfff, 0x2000, true}});
  expect_needs_reset();
}

TEST_F(Malformed, ChainLoops) {
  d().write_desc(q(), 0, buf_, 8, kDescFlagWrite | kDescFlagNext, 1);
  d().write_desc(q(), 1, buf_, 8, kDescFlagWrite | kDescFlagNext, 0);
  avail(0);
  expect_needs_reset();
}

TEST_F(Malformed, SelfLoop) {
  d().write_desc(q(), 3, buf_, 8, kDescFlagWrite | kDescFlagNext, 3);
  avail(3);
  expect_needs_reset();
}

TEST_F(Malformed, NextIndexOutOfRange) {
  d().write_desc(q(), 0, buf_, 8, kDescFlagWrite | kDescFlagNext, 8);
  avail(0);
  expect_needs_reset();
}

TEST_F(Malformed, HeadIndexOutOfRange) {
  avail(200);
  expect_needs_reset();
}

TEST_F(Malformed, ReadableAfterWritable) {
  d().add_chain(0, {{buf_, 8, true}, {buf_ + 8, 8, false}});
  expect_needs_reset();
}

TEST_F(Malformed, AvailIdxJumpsAhead) {
  d().set_avail_idx(0, 9);  // 9 > queue size 8
  expect_needs_reset();
}

TEST_F(Malformed, AvailIdxGoesBackwards) {
  d().set_avail_idx(0, 0xffff);
  expect_needs_reset();
}

TEST_F(Malformed, NestedIndirect) {
  uint64_t inner = d().alloc(16);
  rig_.ram.store(inner, VirtqDesc{buf_, 8, kDescFlagWrite, 0});
  uint64_t outer = d().alloc(16);
  rig_.ram.store(outer, VirtqDesc{inner, 16, kDescFlagIndirect, 0});
  d().write_desc(q(), 0, outer, 16, kDescFlagIndirect, 0);
  avail(0);
  expect_needs_reset();
}

TEST_F(Malformed, IndirectTableNotMultipleOf16) {
  uint64_t table = d().alloc(32);
  rig_.ram.store(table, VirtqDesc{buf_, 8, kDescFlagWrite, 0});
  d().write_desc(q(), 0, table, 17, kDescFlagIndirect, 0);
  avail(0);
  expect_needs_reset();
}

TEST_F(Malformed, IndirectTableEmpty) {
  d().write_desc(q(), 0, d().alloc(16), 0, kDescFlagIndirect, 0);
  avail(0);
  expect_needs_reset();
}

TEST_F(Malformed, IndirectTableHuge) {
  // 0xfffffff0 bytes: a multiple of 16, far beyond RAM and any sane table.
  d().write_desc(q(), 0, kRamBase, 0xfffffff0, kDescFlagIndirect, 0);
  avail(0);
  expect_needs_reset();
}

TEST_F(Malformed, IndirectTableOutsideRam) {
  d().write_desc(q(), 0, kRamBase + kRamSize - 16, 32, kDescFlagIndirect, 0);
  avail(0);
  expect_needs_reset();
}

TEST_F(Malformed, IndirectChainLoops) {
  uint64_t table = d().alloc(32);
  rig_.ram.store(table, VirtqDesc{buf_, 8, kDescFlagWrite | kDescFlagNext, 1});
  rig_.ram.store(table + 16, VirtqDesc{buf_, 8, kDescFlagWrite | kDescFlagNext, 0});
  d().write_desc(q(), 0, table, 32, kDescFlagIndirect, 0);
  avail(0);
  expect_needs_reset();
}

TEST_F(Malformed, IndirectChainRunsOffTable) {
  uint64_t table = d().alloc(32);
  rig_.ram.store(table, VirtqDesc{buf_, 8, kDescFlagWrite | kDescFlagNext, 1});
  rig_.ram.store(table + 16, VirtqDesc{buf_, 8, kDescFlagWrite | kDescFlagNext, 2});
  d().write_desc(q(), 0, table, 32, kDescFlagIndirect, 0);
  avail(0);
  expect_needs_reset();
}

TEST_F(Malformed, IndirectWithNext) {
  uint64_t table = d().alloc(16);
  rig_.ram.store(table, VirtqDesc{buf_, 8, kDescFlagWrite, 0});
  d().write_desc(q(), 0, table, 16, kDescFlagIndirect | kDescFlagNext, 1);
  d().write_desc(q(), 1, buf_, 8, kDescFlagWrite, 0);
  avail(0);
  expect_needs_reset();
}

TEST(MalformedSetup, IndirectWithoutFeature) {
  Rig<VirtioRng> rig;
  TestDriver& d = *rig.driver;
  ASSERT_TRUE(d.init(kVersion1, 1, 8));
  d.add_indirect(0, {{d.alloc(8), 8, true}});
  d.kick(0);
  rig.drain();
  EXPECT_TRUE(d.status() & kStatusNeedsReset);
  EXPECT_EQ(d.used_idx(0), 0);
}

TEST(MalformedSetup, RingsOutsideRamOrMisaligned) {
  struct Case {
    uint16_t size;
    uint64_t desc, avail, used;
  };
  const uint64_t ok = kRamBase + 0x1000;
  const Case cases[] = {
      {8, 0x1000, ok + 0x1000, ok + 0x2000},          // desc outside RAM
      {8, ok, ok + 0x1000, kRamBase + kRamSize - 8},  // used ring runs off RAM
      {8, ok + 8, ok + 0x1000, ok + 0x2000},          // desc not 16-aligned
      {8, ok, ok + 0x1001, ok + 0x2000},              // avail not 2-aligned
      {8, ok, ok + 0x1000, ok + 0x2002},              // used not 4-aligned
      {6, ok, ok + 0x1000, ok + 0x2000},              // size not a power of two
      {128, ok, ok + 0x1000, ok + 0x2000},            // size above QueueNumMax
  };
  for (const Case& c : cases) {
    Rig<VirtioRng> rig;
    TestDriver& d = *rig.driver;
    ASSERT_TRUE(d.negotiate(kVersion1));
    d.write(reg::kQueueSel, 0);
    d.write(reg::kQueueNum, c.size);
    d.program_queue(c.desc, c.avail, c.used);
    d.write(reg::kQueueReady, 1);
    EXPECT_EQ(d.read(reg::kQueueReady), 0u) << c.desc;
    EXPECT_TRUE(d.status() & kStatusNeedsReset) << c.desc;
    d.driver_ok();
    EXPECT_FALSE(rig.irq.level);  // config interrupts are for a live driver only
  }
}

TEST(MalformedSetup, NeedsResetAfterDriverOkRaisesConfigInterrupt) {
  Rig<VirtioRng> rig;
  TestDriver& d = *rig.driver;
  ASSERT_TRUE(d.init(kVersion1, 1, 8));
  uint32_t generation = d.read(reg::kConfigGeneration);
  d.add_chain(0, {{0, 8, true}});
  d.kick(0);
  rig.drain();
  EXPECT_TRUE(d.status() & kStatusNeedsReset);
  EXPECT_EQ(d.ack_interrupt(), kInterruptConfigChange);
  EXPECT_FALSE(rig.irq.level);
  EXPECT_EQ(d.read(reg::kConfigGeneration), generation);
  // The driver cannot clear NEEDS_RESET by writing status; only a reset does.
  d.write(reg::kStatus, d.status() & ~kStatusNeedsReset);
  EXPECT_TRUE(d.status() & kStatusNeedsReset);
}

}  // namespace
}  // namespace tandem
