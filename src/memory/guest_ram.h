// Guest RAM: regions of anonymous host memory placed at guest-physical addresses.
// Every access the VMM makes on the guest's behalf goes through the bounds checks here: a
// guest-supplied address or length that is not wholly inside one RAM region yields nullptr /
// false (or GuestMemoryError from the throwing helpers), never a host access outside RAM.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <span>
#include <type_traits>
#include <vector>

#include "base/error.h"
#include "base/mapping.h"

namespace tandem {

class GuestMemoryError : public Error {
 public:
  using Error::Error;
};

struct RamRegion {
  uint64_t gpa = 0;   // guest-physical base
  uint64_t size = 0;  // bytes
  uint8_t* host = nullptr;
  bool contains(uint64_t addr, uint64_t len) const {
    return addr >= gpa && len <= size && addr - gpa <= size - len;
  }
};

class GuestRam {
 public:
  GuestRam() = default;
  GuestRam(const GuestRam&) = delete;
  GuestRam& operator=(const GuestRam&) = delete;

  // Adds `size` bytes of zeroed RAM at `gpa`. Throws Error on overlap or when the host refuses.
  // Regions are added before vCPUs start; afterwards the set is read-only.
  const RamRegion& add_region(uint64_t gpa, uint64_t size);

  const std::vector<RamRegion>& regions() const { return regions_; }
  uint64_t total_size() const;

  // Host pointer for [gpa, gpa+len) if it lies in one region, else nullptr.
  uint8_t* host_ptr(uint64_t gpa, uint64_t len) const;
  bool contains(uint64_t gpa, uint64_t len) const { return host_ptr(gpa, len) != nullptr; }

  // Bounds-checked copies; false when the range is not wholly RAM.
  bool read(uint64_t gpa, std::span<uint8_t> out) const;
  bool write(uint64_t gpa, std::span<const uint8_t> in) const;

  // Throwing forms for loaders and trusted set-up code.
  void read_or_throw(uint64_t gpa, std::span<uint8_t> out) const;
  void write_or_throw(uint64_t gpa, std::span<const uint8_t> in) const;

  // Devices (DMA) about to write [gpa, gpa+len): tells the watcher, if any (a translator must
  // drop code it translated from there). Any thread. The watcher is set before devices run.
  using DeviceWriteWatcher = std::function<void(uint64_t gpa, uint64_t len)>;
  void set_device_write_watcher(DeviceWriteWatcher watcher) { watcher_ = std::move(watcher); }
  void note_device_write(uint64_t gpa, uint64_t len) const {
    if (watcher_) watcher_(gpa, len);
  }

  template <typename T>
  T load(uint64_t gpa) const {
    static_assert(std::is_trivially_copyable_v<T>);
    T value;
    read_or_throw(gpa, {reinterpret_cast<uint8_t*>(&value), sizeof(T)});
    return value;
  }
  template <typename T>
  void store(uint64_t gpa, const T& value) const {
    static_assert(std::is_trivially_copyable_v<T>);
    write_or_throw(gpa, {reinterpret_cast<const uint8_t*>(&value), sizeof(T)});
  }

 private:
  std::vector<RamRegion> regions_;
  std::vector<Mapping> mappings_;
  DeviceWriteWatcher watcher_;
};

}  // namespace tandem
