// tandem-testdev: Tandem's test device (in the spirit of QEMU's pc-testdev). Test guests use it
// to check that port I/O, MMIO and ioeventfd exits reach a device with the right width and data,
// and benchmarks use it to time those round trips. Enabled by `-device tandem-testdev`
// (MachineConfig::testdev).
//
// Two windows share one device state:
//
//   PIO window  ports [0x510, 0x520)                       (kPioBase, kPioSize)
//     +0x0  ECHO   r/w  1, 2 or 4 bytes. A write stores the bytes written (at their offset in the
//                       32-bit register); a read returns them. Each access counts (see COUNT).
//     +0x4  COUNT  r/w  4 bytes: number of accesses to ECHO in this window since the last reset.
//                       Reading COUNT does not count; writing any value resets it to 0.
//     +0x8  ID     r    4 bytes: kMagic ("TDEV" little-endian: 0x56454454).
//     other offsets: reads 0, writes ignored. An access must lie inside one register (e.g. a
//     2-byte access at ECHO+2 is fine, a 4-byte access at ECHO+2 is not: it reads 0, writes nothing
//     and does not count).
//
//   MMIO window [0xfe000000, 0xfe001000)                   (kMmioBase, kMmioSize; inside the
//                                                            32-bit MMIO hole, below the IOAPIC)
//     +0x000 ID           r    kMagic.
//     +0x008 ECHO         r/w  1, 2, 4 or 8 bytes, same rules as the PIO ECHO (64-bit register).
//     +0x010 COUNT        r/w  accesses to the MMIO ECHO; reading does not count, writing resets.
//     +0x018 DOORBELLS    r/w  number of doorbell notifications seen so far (see below); a read
//                              first drains the eventfd so that the value is exact at the time of
//                              the read. Writing any value resets it to 0.
//     +0x100 DOORBELL     w    4-byte writes ring the doorbell. With KVM the write never leaves
//                              the kernel: it signals doorbell_eventfd() (KVM_IOEVENTFD) and the
//                              device counts it when it drains the eventfd. If a write reaches
//                              io_write() instead (no ioeventfd installed, e.g. TCG), it is
//                              counted directly, so the guest sees the same count either way.
//     other offsets: reads 0, writes ignored.
//
// Wiring (helper "kvm", when config.testdev is set; all constants are in tandem::testdev):
//
//   auto dev = std::make_shared<TestDev>();
//   pio_bus.add(testdev::kPioBase, testdev::kPioSize, dev->pio_window(), "tandem-testdev-pio");
//   mmio_bus.add(testdev::kMmioBase, testdev::kMmioSize, dev, "tandem-testdev-mmio");
//   kvm_ioeventfd ioev{};
//   ioev.addr = testdev::kDoorbellGpa;     // 0xfe000100
//   ioev.len = testdev::kDoorbellLen;      // 4
//   ioev.fd = dev->doorbell_eventfd();
//   ioev.flags = 0;                        // MMIO, no datamatch
//   ioctl(vm_fd, KVM_IOEVENTFD, &ioev);    // fail("...") on error
//   dev->attach(io_thread.loop());         // drains the eventfd on the I/O thread
//
// The TestDev object itself is the MMIO window; pio_window() returns the port-I/O window (an
// IoDevice sharing the state). Thread safety: every entry point may be called from any vCPU
// thread and from the I/O thread at once; the state is behind one mutex.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>

#include "base/unique_fd.h"
#include "memory/io_bus.h"

namespace tandem {

class EventLoop;

namespace testdev {
inline constexpr uint32_t kMagic = 0x56454454;  // "TDEV"

inline constexpr uint16_t kPioBase = 0x510;
inline constexpr uint16_t kPioSize = 0x10;
inline constexpr uint64_t kPioEcho = 0x0;
inline constexpr uint64_t kPioCount = 0x4;
inline constexpr uint64_t kPioId = 0x8;

inline constexpr uint64_t kMmioBase = 0xfe000000;
inline constexpr uint64_t kMmioSize = 0x1000;
inline constexpr uint64_t kMmioId = 0x000;
inline constexpr uint64_t kMmioEcho = 0x008;
inline constexpr uint64_t kMmioCount = 0x010;
inline constexpr uint64_t kMmioDoorbells = 0x018;
inline constexpr uint64_t kMmioDoorbell = 0x100;

inline constexpr uint64_t kDoorbellGpa = kMmioBase + kMmioDoorbell;
inline constexpr uint32_t kDoorbellLen = 4;
}  // namespace testdev

class TestDev : public IoDevice, public std::enable_shared_from_this<TestDev> {
 public:
  // Creates the doorbell eventfd. Throws SystemError if the host refuses. Create the device with
  // std::make_shared (pio_window() shares ownership).
  TestDev();
  ~TestDev() override;
  TestDev(const TestDev&) = delete;
  TestDev& operator=(const TestDev&) = delete;

  // MMIO window (offsets relative to kMmioBase).
  void io_read(uint64_t offset, std::span<uint8_t> data) override;
  void io_write(uint64_t offset, std::span<const uint8_t> data) override;

  // The port-I/O window (offsets relative to kPioBase). Keeps the TestDev alive.
  std::shared_ptr<IoDevice> pio_window();

  // The eventfd KVM signals on doorbell writes (non-blocking, close-on-exec; owned by TestDev).
  int doorbell_eventfd() const { return doorbell_.get(); }

  // Drains the doorbell eventfd whenever it becomes readable on `loop`'s thread (the device must
  // be owned by a shared_ptr). The loop must outlive the device, or detach() must be called
  // first. Attaching twice throws Error.
  void attach(EventLoop& loop);
  void detach();

  // For tests and the VMM's own statistics.
  uint64_t doorbells();
  uint32_t pio_count();
  uint64_t mmio_count();

 private:
  class PioWindow;
  void pio_read(uint64_t offset, std::span<uint8_t> data);
  void pio_write(uint64_t offset, std::span<const uint8_t> data);
  void drain_locked();

  std::mutex mutex_;
  UniqueFd doorbell_;
  EventLoop* loop_ = nullptr;
  uint32_t pio_echo_ = 0;
  uint32_t pio_count_ = 0;
  uint64_t mmio_echo_ = 0;
  uint64_t mmio_count_ = 0;
  uint64_t doorbells_ = 0;
};

}  // namespace tandem
