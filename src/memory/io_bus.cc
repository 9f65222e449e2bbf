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

// An access that does not fit in one range is split at range boundaries, as QEMU's memory core
// does: each device sees the bytes that fall in its range (at their offset), and bytes no device
// claims read as all-ones and are dropped on write. This is what makes QEMU's common
// `outl` to a 2-byte isa-debug-exit at 0x501 work: the device gets the low two bytes.
template <typename Fn>
void IoBus::for_each_piece(uint64_t addr, uint64_t len, Fn&& fn) const {
  size_t pos = 0;
  while (pos < len) {
    uint64_t at = addr + pos;
    uint64_t left = len - pos;
    // The first range that ends after `at`; it either holds `at` or starts later.
    auto it = std::upper_bound(ranges_.begin(), ranges_.end(), at,
                               [](uint64_t a, const Range& r) { return a < r.base; });
    if (it != ranges_.begin() && at - std::prev(it)->base < std::prev(it)->size) --it;
    uint64_t piece;
    const Range* range = nullptr;
    if (it != ranges_.end() && it->base <= at) {
      range = &*it;
      piece = std::min(left, it->base + it->size - at);
    } else {
      piece = (it != ranges_.end() && it->base - at < left) ? it->base - at : left;
    }
    fn(at, pos, static_cast<size_t>(piece), range);
    pos += piece;
  }
}

bool IoBus::read(uint64_t addr, std::span<uint8_t> data) const {
  if (const Range* r = find(addr, data.size())) {
    r->device->io_read(addr - r->base, data);
    return true;
  }
  bool claimed = false;
  for_each_piece(addr, data.size(), [&](uint64_t at, size_t pos, size_t len, const Range* r) {
    auto piece = data.subspan(pos, len);
    if (r) {
      r->device->io_read(at - r->base, piece);
      claimed = true;
    } else {
      std::memset(piece.data(), 0xff, piece.size());
    }
  });
  if (!claimed) TLOG_DEBUG("{}: unclaimed read of {} bytes at {:#x}", name_, data.size(), addr);
  return claimed;
}

bool IoBus::write(uint64_t addr, std::span<const uint8_t> data) const {
  if (const Range* r = find(addr, data.size())) {
    r->device->io_write(addr - r->base, data);
    return true;
  }
  bool claimed = false;
  for_each_piece(addr, data.size(), [&](uint64_t at, size_t pos, size_t len, const Range* r) {
    if (r) {
      r->device->io_write(at - r->base, data.subspan(pos, len));
      claimed = true;
    }
  });
  if (!claimed) TLOG_DEBUG("{}: unclaimed write of {} bytes at {:#x}", name_, data.size(), addr);
  return claimed;
}

}  // namespace tandem
