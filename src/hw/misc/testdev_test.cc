#include "hw/misc/testdev.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <thread>

#include "base/error.h"
#include "base/event_loop.h"
#include "memory/io_bus.h"

namespace tandem {
namespace {

using namespace testdev;

class TestDevTest : public ::testing::Test {
 protected:
  TestDevTest() : pio_("pio"), mmio_("mmio") {
    pio_.add(kPioBase, kPioSize, dev_->pio_window(), "tandem-testdev-pio");
    mmio_.add(kMmioBase, kMmioSize, dev_, "tandem-testdev-mmio");
  }

  template <typename T>
  T read(const IoBus& bus, uint64_t addr) {
    T v;
    std::array<uint8_t, sizeof(T)> bytes;
    EXPECT_TRUE(bus.read(addr, bytes));
    std::memcpy(&v, bytes.data(), sizeof v);
    return v;
  }
  template <typename T>
  void write(const IoBus& bus, uint64_t addr, T v) {
    std::array<uint8_t, sizeof(T)> bytes;
    std::memcpy(bytes.data(), &v, sizeof v);
    EXPECT_TRUE(bus.write(addr, bytes));
  }
  void signal_eventfd(uint64_t n) {
    ASSERT_EQ(::write(dev_->doorbell_eventfd(), &n, sizeof n), static_cast<ssize_t>(sizeof n));
  }

  std::shared_ptr<TestDev> dev_ = std::make_shared<TestDev>();
  IoBus pio_;
  IoBus mmio_;
};

TEST_F(TestDevTest, IdRegistersReadMagic) {
  EXPECT_EQ(read<uint32_t>(pio_, kPioBase + kPioId), kMagic);
  EXPECT_EQ(read<uint32_t>(mmio_, kMmioBase + kMmioId), kMagic);
  EXPECT_EQ(read<uint8_t>(mmio_, kMmioBase + kMmioId + 1), 'D');
}

TEST_F(TestDevTest, PioEchoReturnsWhatWasWrittenAtEveryWidth) {
  write<uint32_t>(pio_, kPioBase, 0xdeadbeef);
  EXPECT_EQ(read<uint32_t>(pio_, kPioBase), 0xdeadbeefu);
  write<uint16_t>(pio_, kPioBase + 2, 0x1234);
  EXPECT_EQ(read<uint32_t>(pio_, kPioBase), 0x1234beefu);
  write<uint8_t>(pio_, kPioBase + 1, 0x56);
  EXPECT_EQ(read<uint8_t>(pio_, kPioBase + 1), 0x56);
  EXPECT_EQ(read<uint16_t>(pio_, kPioBase), 0x56ef);
  EXPECT_EQ(dev_->pio_count(), 7u);  // 3 writes, 4 reads
}

TEST_F(TestDevTest, PioCountCountsEchoAccessesOnlyAndResetsOnWrite) {
  EXPECT_EQ(read<uint32_t>(pio_, kPioBase + kPioCount), 0u);
  for (int i = 0; i < 5; i++) write<uint32_t>(pio_, kPioBase, i);
  read<uint32_t>(pio_, kPioBase);
  EXPECT_EQ(read<uint32_t>(pio_, kPioBase + kPioCount), 6u);
  EXPECT_EQ(read<uint32_t>(pio_, kPioBase + kPioCount), 6u);  // reading COUNT does not count
  read<uint32_t>(pio_, kPioBase + kPioId);                    // nor does ID
  EXPECT_EQ(read<uint32_t>(pio_, kPioBase + kPioCount), 6u);
  write<uint32_t>(pio_, kPioBase + kPioCount, 1234);
  EXPECT_EQ(read<uint32_t>(pio_, kPioBase + kPioCount), 0u);
}

TEST_F(TestDevTest, AccessesStraddlingARegisterAreIgnored) {
  write<uint32_t>(pio_, kPioBase, 0x11223344);
  write<uint32_t>(pio_, kPioBase + 2, 0xffffffff);  // spans ECHO and COUNT
  EXPECT_EQ(read<uint32_t>(pio_, kPioBase + 2), 0u);
  EXPECT_EQ(read<uint32_t>(pio_, kPioBase), 0x11223344u);
  EXPECT_EQ(read<uint32_t>(pio_, kPioBase + 0xc), 0u);
  EXPECT_EQ(dev_->pio_count(), 2u);
}

TEST_F(TestDevTest, MmioEchoIs64BitAndSeparateFromPio) {
  write<uint64_t>(mmio_, kMmioBase + kMmioEcho, 0x0123456789abcdefull);
  write<uint32_t>(pio_, kPioBase, 7);
  EXPECT_EQ(read<uint64_t>(mmio_, kMmioBase + kMmioEcho), 0x0123456789abcdefull);
  EXPECT_EQ(read<uint32_t>(mmio_, kMmioBase + kMmioEcho + 4), 0x01234567u);
  write<uint8_t>(mmio_, kMmioBase + kMmioEcho + 7, 0xaa);
  EXPECT_EQ(read<uint64_t>(mmio_, kMmioBase + kMmioEcho), 0xaa23456789abcdefull);
  EXPECT_EQ(read<uint64_t>(mmio_, kMmioBase + kMmioCount), 5u);
  write<uint64_t>(mmio_, kMmioBase + kMmioCount, 0);
  EXPECT_EQ(read<uint64_t>(mmio_, kMmioBase + kMmioCount), 0u);
  EXPECT_EQ(read<uint32_t>(pio_, kPioBase), 7u);
  EXPECT_EQ(read<uint64_t>(mmio_, kMmioBase + 0x800), 0u);
}

TEST_F(TestDevTest, DoorbellWritesThatReachTheDeviceAreCounted) {
  for (int i = 0; i < 3; i++) write<uint32_t>(mmio_, kDoorbellGpa, i);
  write<uint8_t>(mmio_, kDoorbellGpa, 1);  // wrong width: not a doorbell
  EXPECT_EQ(read<uint64_t>(mmio_, kMmioBase + kMmioDoorbells), 3u);
}

TEST_F(TestDevTest, ReadingDoorbellsDrainsTheEventfdExactly) {
  signal_eventfd(1);
  signal_eventfd(4);
  write<uint32_t>(mmio_, kDoorbellGpa, 0);
  EXPECT_EQ(read<uint64_t>(mmio_, kMmioBase + kMmioDoorbells), 6u);
  EXPECT_EQ(read<uint64_t>(mmio_, kMmioBase + kMmioDoorbells), 6u);
  signal_eventfd(2);
  write<uint64_t>(mmio_, kMmioBase + kMmioDoorbells, 0);  // reset includes pending signals
  EXPECT_EQ(dev_->doorbells(), 0u);
}

TEST_F(TestDevTest, IoThreadDrainsTheEventfd) {
  IoThread io;
  dev_->attach(io.loop());
  EXPECT_THROW(dev_->attach(io.loop()), Error);
  signal_eventfd(10);
  // Only the I/O thread reads the eventfd here: wait until it is no longer readable.
  bool drained = false;
  for (int i = 0; i < 1000 && !drained; i++) {
    pollfd p{dev_->doorbell_eventfd(), POLLIN, 0};
    drained = ::poll(&p, 1, 0) == 0;
    if (!drained) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(drained);
  EXPECT_EQ(dev_->doorbells(), 10u);
  dev_->detach();
  signal_eventfd(1);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  pollfd p{dev_->doorbell_eventfd(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 1);  // detached: nobody drains it any more
}

TEST_F(TestDevTest, EventfdIsNonBlocking) {
  // A drain with nothing pending must not block the caller.
  EXPECT_EQ(dev_->doorbells(), 0u);
}

}  // namespace
}  // namespace tandem
