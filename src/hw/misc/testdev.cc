#include "hw/misc/testdev.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/error.h"
#include "base/event_loop.h"
#include "base/log.h"

namespace tandem {

namespace {

// True when [offset, offset+len) lies inside the register [reg, reg+size).
bool inside(uint64_t offset, size_t len, uint64_t reg, uint64_t size) {
  return offset >= reg && len <= size && offset - reg <= size - len;
}

// Copies `data` into the bytes of `value` starting at byte `shift` (little-endian register).
template <typename T>
void merge_bytes(T& value, uint64_t shift, std::span<const uint8_t> data) {
  uint8_t bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  std::memcpy(bytes + shift, data.data(), data.size());
  std::memcpy(&value, bytes, sizeof(T));
}

template <typename T>
void extract_bytes(const T& value, uint64_t shift, std::span<uint8_t> data) {
  uint8_t bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  std::memcpy(data.data(), bytes + shift, data.size());
}

}  // namespace

class TestDev::PioWindow : public IoDevice {
 public:
  explicit PioWindow(std::shared_ptr<TestDev> dev) : dev_(std::move(dev)) {}
  void io_read(uint64_t offset, std::span<uint8_t> data) override { dev_->pio_read(offset, data); }
  void io_write(uint64_t offset, std::span<const uint8_t> data) override {
    dev_->pio_write(offset, data);
  }

 private:
  std::shared_ptr<TestDev> dev_;
};

TestDev::TestDev() {
  doorbell_.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!doorbell_) fail_errno("tandem-testdev: eventfd");
}

TestDev::~TestDev() {
  detach();
}

std::shared_ptr<IoDevice> TestDev::pio_window() {
  return std::make_shared<PioWindow>(shared_from_this());
}

void TestDev::attach(EventLoop& loop) {
  {
    std::lock_guard lock(mutex_);
    if (loop_) fail("tandem-testdev: already attached to an event loop");
    loop_ = &loop;
  }
  // A weak reference: a callback already running when the device goes away must not touch it.
  loop.add_fd(doorbell_.get(), EPOLLIN, [weak = weak_from_this()](uint32_t) {
    if (auto self = weak.lock()) {
      std::lock_guard lock(self->mutex_);
      self->drain_locked();
    }
  });
}

void TestDev::detach() {
  EventLoop* loop;
  {
    std::lock_guard lock(mutex_);
    loop = std::exchange(loop_, nullptr);
  }
  if (loop) loop->remove_fd(doorbell_.get());
}

void TestDev::drain_locked() {
  uint64_t value = 0;
  // An eventfd (not in semaphore mode) returns the sum of all signals since the last read.
  ssize_t n = ::read(doorbell_.get(), &value, sizeof value);
  if (n == static_cast<ssize_t>(sizeof value)) {
    doorbells_ += value;
  } else if (n < 0 && errno != EAGAIN) {
    TLOG_WARN("tandem-testdev: reading the doorbell eventfd: {}", std::strerror(errno));
  }
}

uint64_t TestDev::doorbells() {
  std::lock_guard lock(mutex_);
  drain_locked();
  return doorbells_;
}

uint32_t TestDev::pio_count() {
  std::lock_guard lock(mutex_);
  return pio_count_;
}

uint64_t TestDev::mmio_count() {
  std::lock_guard lock(mutex_);
  return mmio_count_;
}

void TestDev::pio_read(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(mutex_);
  std::memset(data.data(), 0, data.size());
  if (inside(offset, data.size(), testdev::kPioEcho, 4)) {
    extract_bytes(pio_echo_, offset - testdev::kPioEcho, data);
    ++pio_count_;
  } else if (inside(offset, data.size(), testdev::kPioCount, 4)) {
    extract_bytes(pio_count_, offset - testdev::kPioCount, data);
  } else if (inside(offset, data.size(), testdev::kPioId, 4)) {
    extract_bytes(testdev::kMagic, offset - testdev::kPioId, data);
  }
}

void TestDev::pio_write(uint64_t offset, std::span<const uint8_t> data) {
  std::lock_guard lock(mutex_);
  if (inside(offset, data.size(), testdev::kPioEcho, 4)) {
    merge_bytes(pio_echo_, offset - testdev::kPioEcho, data);
    ++pio_count_;
  } else if (inside(offset, data.size(), testdev::kPioCount, 4)) {
    pio_count_ = 0;
  }
}

void TestDev::io_read(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(mutex_);
  std::memset(data.data(), 0, data.size());
  if (inside(offset, data.size(), testdev::kMmioEcho, 8)) {
    extract_bytes(mmio_echo_, offset - testdev::kMmioEcho, data);
    ++mmio_count_;
  } else if (inside(offset, data.size(), testdev::kMmioCount, 8)) {
    extract_bytes(mmio_count_, offset - testdev::kMmioCount, data);
  } else if (inside(offset, data.size(), testdev::kMmioDoorbells, 8)) {
    drain_locked();
    extract_bytes(doorbells_, offset - testdev::kMmioDoorbells, data);
  } else if (inside(offset, data.size(), testdev::kMmioId, 4)) {
    extract_bytes(testdev::kMagic, offset - testdev::kMmioId, data);
  }
}

void TestDev::io_write(uint64_t offset, std::span<const uint8_t> data) {
  std::lock_guard lock(mutex_);
  if (inside(offset, data.size(), testdev::kMmioEcho, 8)) {
    merge_bytes(mmio_echo_, offset - testdev::kMmioEcho, data);
    ++mmio_count_;
  } else if (inside(offset, data.size(), testdev::kMmioCount, 8)) {
    mmio_count_ = 0;
  } else if (inside(offset, data.size(), testdev::kMmioDoorbells, 8)) {
    drain_locked();  // notifications before the reset are part of what is reset
    doorbells_ = 0;
  } else if (offset == testdev::kMmioDoorbell && data.size() == testdev::kDoorbellLen) {
    // Reached us instead of the ioeventfd (none installed): count it the same way.
    ++doorbells_;
  }
}

}  // namespace tandem
