#include "memory/io_bus.h"

#include <algorithm>
#include <cstring>

#include "base/error.h"
#include "base/log.h"

namespace tandem {

void IoBus::add(uint64_t base, uint64_t size, std::shared_ptr<IoDevice> device,
                std::string label) {
  if (size == 0) fail("{}: device {} claims an empty range at {:#x}", name_, label, base);
  if (base + size < base) fail("{}: device {} range at {:#x} wraps", name_, label, base);
  for (const auto& r : ranges_) {
    if (base < r.base + r.size && r.base < base + size) {
      fail("{}: {} at [{:#x}, {:#x}) overlaps {} at [{:#x}, {:#x})", name_, label, base,
           base + size, r.label, r.base, r.base + r.size);
    }
  }
  Range range{base, size, std::move(device), std::move(label)};
  auto pos = std::upper_bound(ranges_.begin(), ranges_.end(), base,
                              [](uint64_t b, const Range& r) { return b < r.base; });
  ranges_.insert(pos, std::move(range));
}

const IoBus::Range* IoBus::find(uint64_t addr, uint64_t len) const {
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), addr,
                             [](uint64_t a, const Range& r) { return a < r.base; });
  if (it == ranges_.begin()) return nullptr;
  --it;
  uint64_t off = addr - it->base;
  if (off >= it->size || len > it->size - off) return nullptr;
  return &*it;
}

bool IoBus::read(uint64_t addr, std::span<uint8_t> data) const {
  const Range* r = find(addr, data.size());
  if (!r) {
    std::memset(data.data(), 0xff, data.size());
    TLOG_DEBUG("{}: unclaimed read of {} bytes at {:#x}", name_, data.size(), addr);
    return false;
  }
  r->device->io_read(addr - r->base, data);
  return true;
}

bool IoBus::write(uint64_t addr, std::span<const uint8_t> data) const {
  const Range* r = find(addr, data.size());
  if (!r) {
    TLOG_DEBUG("{}: unclaimed write of {} bytes at {:#x}", name_, data.size(), addr);
    return false;
  }
  r->device->io_write(addr - r->base, data);
  return true;
}

}  // namespace tandem
