#include "hw/virtio/console/virtio_console.h"

#include <gtest/gtest.h>

#include <string>

#include "base/event_loop.h"
#include "hw/virtio/test_driver.h"
#include "hw/virtio/virtio_defs.h"
#include "hw/virtio/virtio_mmio.h"

namespace tandem {
namespace {

using namespace virtio;
using testing::FakeIrq;
using testing::TestDriver;
namespace reg = testing;

constexpr uint64_t kRamBase = 0x40000000;
constexpr uint64_t kRamSize = 1 << 20;
constexpr uint64_t kVersion1 = feature_bit(kFeatureVersion1);
constexpr uint64_t kEventIdx = feature_bit(kFeatureEventIdx);
constexpr uint64_t kIndirect = feature_bit(kFeatureIndirectDesc);
constexpr uint16_t kRx = VirtioConsole::kReceiveQueue;
constexpr uint16_t kTx = VirtioConsole::kTransmitQueue;

class FakeBackend final : public CharBackend {
 public:
  void write(std::span<const uint8_t> data) override { output.append(data.begin(), data.end()); }
  void set_frontend(CharFrontend* f) override { frontend = f; }
  void accept_input() override { ++accepts; }
  // Delivers as much of `text` as the frontend takes, like a real backend.
  size_t type(const std::string& text) {
    size_t n = std::min(frontend->can_receive(), text.size());
    if (n > 0) {
      frontend->receive({reinterpret_cast<const uint8_t*>(text.data()), n});
    }
    return n;
  }
  std::string output;
  CharFrontend* frontend = nullptr;
  int accepts = 0;
};

struct ConsoleRig {
  explicit ConsoleRig(std::optional<VirtioConsole::Size> size = std::nullopt) {
    ram.add_region(kRamBase, kRamSize);
    auto dev = std::make_unique<VirtioConsole>(backend, size);
    console = dev.get();
    mmio = VirtioMmio::create(std::move(dev), ram, irq, loop);
    driver.emplace(*mmio, ram, kRamBase, kRamSize);
  }
  void drain() {
    while (loop.run_once(0) > 0) {
    }
  }
  std::string guest_string(uint64_t gpa, size_t len) {
    return std::string(reinterpret_cast<const char*>(ram.host_ptr(gpa, len)), len);
  }
  uint64_t put_string(const std::string& s) {
    uint64_t gpa = driver->alloc(s.size());
    ram.write_or_throw(gpa, {reinterpret_cast<const uint8_t*>(s.data()), s.size()});
    return gpa;
  }

  GuestRam ram;
  FakeIrq irq;
  EventLoop loop;
  FakeBackend backend;
  VirtioConsole* console;
  std::shared_ptr<VirtioMmio> mmio;
  std::optional<TestDriver> driver;
};

TEST(VirtioConsole, IdentityAndConfig) {
  ConsoleRig rig;
  TestDriver& d = *rig.driver;
  EXPECT_EQ(d.read(reg::kDeviceId), kDeviceIdConsole);
  uint64_t f = d.device_features();
  EXPECT_TRUE(f & feature_bit(VirtioConsole::kFeatureEmergWrite));
  EXPECT_FALSE(f & feature_bit(VirtioConsole::kFeatureSize));
  EXPECT_FALSE(f & feature_bit(VirtioConsole::kFeatureMultiport));
  EXPECT_EQ(d.read(reg::kConfig + 4), 1u);  // max_nr_ports
  for (uint16_t q = 0; q < 2; ++q) {
    d.write(reg::kQueueSel, q);
    EXPECT_EQ(d.read(reg::kQueueNumMax), VirtioConsole::kQueueSize);
  }
  // Emergency write: one character per write to emerg_wr, usable before the queues exist.
  d.write(reg::kConfig + 8, 'E');
  uint8_t c = '!';
  rig.mmio->io_write(reg::kConfig + 8, {&c, 1});
  EXPECT_EQ(rig.backend.output, "E!");
}

TEST(VirtioConsole, SizeFeatureAndResize) {
  ConsoleRig rig(VirtioConsole::Size{132, 43});
  TestDriver& d = *rig.driver;
  EXPECT_TRUE(d.device_features() & feature_bit(VirtioConsole::kFeatureSize));
  uint16_t cols = 0, rows = 0;
  rig.mmio->io_read(reg::kConfig + 0, {reinterpret_cast<uint8_t*>(&cols), 2});
  rig.mmio->io_read(reg::kConfig + 2, {reinterpret_cast<uint8_t*>(&rows), 2});
  EXPECT_EQ(cols, 132);
  EXPECT_EQ(rows, 43);
  ASSERT_TRUE(d.init(kVersion1 | feature_bit(VirtioConsole::kFeatureSize), 2, 16));
  uint32_t gen = d.read(reg::kConfigGeneration);
  rig.console->set_size({100, 30});
  EXPECT_EQ(d.read(reg::kConfigGeneration), gen + 1);
  EXPECT_TRUE(rig.irq.level);
  EXPECT_EQ(d.ack_interrupt(), kInterruptConfigChange);
  EXPECT_EQ(d.read(reg::kConfig), 100u | 30u << 16);
}

class ConsoleTest : public ::testing::TestWithParam<bool> {
 protected:
  uint64_t features() const { return kVersion1 | kIndirect | (GetParam() ? kEventIdx : 0); }
};

TEST_P(ConsoleTest, TransmitGoesToBackend) {
  ConsoleRig rig;
  TestDriver& d = *rig.driver;
  ASSERT_TRUE(d.init(features(), 2, 16));
  uint16_t head = d.add_chain(kTx, {{rig.put_string("hello, "), 7, false}});
  d.add_chain(kTx, {{rig.put_string("wor"), 3, false}, {rig.put_string("ld\n"), 3, false}});
  d.add_indirect(kTx, {{rig.put_string("via "), 4, false}, {rig.put_string("indirect"), 8, false}});
  d.kick(kTx);
  rig.drain();
  EXPECT_EQ(rig.backend.output, "hello, world\nvia indirect");
  auto used = d.get_used(kTx);
  ASSERT_TRUE(used);
  EXPECT_EQ(used->id, head);
  EXPECT_EQ(used->len, 0u);  // the device wrote nothing into transmit buffers
  EXPECT_TRUE(d.get_used(kTx));
  EXPECT_TRUE(d.get_used(kTx));
  EXPECT_FALSE(d.get_used(kTx));
  EXPECT_TRUE(rig.irq.level);
  EXPECT_EQ(d.ack_interrupt(), kInterruptUsedBuffer);
}

TEST_P(ConsoleTest, ReceiveFillsGuestBuffers) {
  ConsoleRig rig;
  TestDriver& d = *rig.driver;
  ASSERT_TRUE(d.init(features(), 2, 16));
  // Input typed before the guest posts buffers waits in the device.
  EXPECT_EQ(rig.backend.type("ls -l\n"), 6u);
  rig.drain();
  EXPECT_EQ(d.used_idx(kRx), 0);
  EXPECT_FALSE(rig.irq.level);
  uint64_t b0 = d.alloc(4), b1 = d.alloc(64);
  uint16_t h0 = d.add_chain(kRx, {{b0, 4, true}});
  uint16_t h1 = d.add_chain(kRx, {{b1, 64, true}});
  d.kick(kRx);
  rig.drain();
  auto used = d.get_used(kRx);
  ASSERT_TRUE(used);
  EXPECT_EQ(used->id, h0);
  EXPECT_EQ(used->len, 4u);
  EXPECT_EQ(rig.guest_string(b0, 4), "ls -");
  used = d.get_used(kRx);
  ASSERT_TRUE(used);
  EXPECT_EQ(used->id, h1);
  EXPECT_EQ(used->len, 2u);
  EXPECT_EQ(rig.guest_string(b1, 2), "l\n");
  EXPECT_TRUE(rig.irq.level);
  d.ack_interrupt();
  // Later input lands straight in the next posted buffer.
  uint64_t b2 = d.alloc(16);
  d.add_chain(kRx, {{b2, 16, true}});
  d.kick(kRx);
  rig.drain();
  EXPECT_FALSE(d.get_used(kRx));  // no input yet: the buffer is kept
  rig.backend.type("q");
  rig.drain();
  used = d.get_used(kRx);
  ASSERT_TRUE(used);
  EXPECT_EQ(used->len, 1u);
  EXPECT_EQ(rig.guest_string(b2, 1), "q");
  EXPECT_TRUE(rig.irq.level);
}

INSTANTIATE_TEST_SUITE_P(EventIdx, ConsoleTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "EventIdx" : "NoEventIdx"; });

TEST(VirtioConsole, InputBackpressure) {
  ConsoleRig rig;
  TestDriver& d = *rig.driver;
  ASSERT_TRUE(d.init(kVersion1, 2, 16));
  std::string big(VirtioConsole::kInputBufferSize + 100, 'x');
  EXPECT_EQ(rig.backend.type(big), VirtioConsole::kInputBufferSize);
  EXPECT_EQ(rig.backend.frontend->can_receive(), 0u);  // full: the backend must pause
  EXPECT_EQ(rig.backend.accepts, 0);
  uint64_t buf = d.alloc(1024);
  d.add_chain(kRx, {{buf, 1024, true}});
  d.kick(kRx);
  rig.drain();
  EXPECT_EQ(rig.backend.accepts, 1);  // room again: the backend resumes reading
  EXPECT_EQ(rig.backend.frontend->can_receive(), 1024u);
}

TEST(VirtioConsole, PendingInputDeliveredAfterDriverOk) {
  ConsoleRig rig;
  TestDriver& d = *rig.driver;
  rig.backend.type("early");
  ASSERT_TRUE(d.negotiate(kVersion1));
  d.setup_queue(kRx, 16);
  d.setup_queue(kTx, 16);
  uint64_t buf = d.alloc(16);
  d.add_chain(kRx, {{buf, 16, true}});
  rig.drain();
  EXPECT_EQ(d.used_idx(kRx), 0);
  d.driver_ok();
  rig.drain();
  auto used = d.get_used(kRx);
  ASSERT_TRUE(used);
  EXPECT_EQ(rig.guest_string(buf, used->len), "early");
}

TEST(VirtioConsole, DisconnectsFromBackendOnDestruction) {
  FakeBackend backend;
  {
    VirtioConsole console(backend);
    EXPECT_EQ(backend.frontend, &console);
  }
  EXPECT_EQ(backend.frontend, nullptr);
}

}  // namespace
}  // namespace tandem
