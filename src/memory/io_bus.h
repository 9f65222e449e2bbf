// PIO and MMIO buses: devices claim address ranges; an access is dispatched to the device whose
// range holds it, with the offset into that range. One IoBus type serves port I/O (x86) and
// MMIO (both machines). Ranges are registered while the machine is built; afterwards dispatch is
// lock-free (the bus is read-only) and each device does its own locking.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace tandem {

class IoDevice {
 public:
  virtual ~IoDevice() = default;
  // `data.size()` is the access width (1, 2, 4 or 8 bytes; larger for some MMIO). Reads must
  // fill every byte of data.
  virtual void io_read(uint64_t offset, std::span<uint8_t> data) = 0;
  virtual void io_write(uint64_t offset, std::span<const uint8_t> data) = 0;
};

class IoBus {
 public:
  explicit IoBus(std::string name) : name_(std::move(name)) {}

  // Claims [base, base+size) for device. Throws Error on overlap or an empty range.
  void add(uint64_t base, uint64_t size, std::shared_ptr<IoDevice> device, std::string label);

  // Returns false when no device claims the address (reads then see all-ones). An access that
  // crosses range boundaries is split between the devices it touches (see io_bus.cc); it is
  // claimed when any of its bytes is.
  bool read(uint64_t addr, std::span<uint8_t> data) const;
  bool write(uint64_t addr, std::span<const uint8_t> data) const;

  struct Range {
    uint64_t base;
    uint64_t size;
    std::shared_ptr<IoDevice> device;
    std::string label;
  };
  const std::vector<Range>& ranges() const { return ranges_; }
  const std::string& name() const { return name_; }

 private:
  const Range* find(uint64_t addr, uint64_t len) const;
  template <typename Fn>
  void for_each_piece(uint64_t addr, uint64_t len, Fn&& fn) const;

  std::string name_;
  std::vector<Range> ranges_;  // sorted by base, non-overlapping
};

}  // namespace tandem
