#include "memory/guest_ram.h"

#include <sys/mman.h>

namespace tandem {

const RamRegion& GuestRam::add_region(uint64_t gpa, uint64_t size) {
  if (size == 0) fail("guest RAM region at {:#x} has size 0", gpa);
  if (gpa + size < gpa) fail("guest RAM region at {:#x} wraps the address space", gpa);
  for (const auto& r : regions_) {
    if (gpa < r.gpa + r.size && r.gpa < gpa + size) {
      fail("guest RAM region [{:#x}, {:#x}) overlaps [{:#x}, {:#x})", gpa, gpa + size, r.gpa,
           r.gpa + r.size);
    }
  }
  // MAP_NORESERVE: guest RAM is touched lazily, like a real machine's unused memory.
  Mapping m = Mapping::anonymous(size, PROT_READ | PROT_WRITE, MAP_NORESERVE);
  ::madvise(m.data(), size, MADV_MERGEABLE);
  RamRegion region{gpa, size, m.data()};
  mappings_.push_back(std::move(m));
  regions_.push_back(region);
  return regions_.back();
}

uint64_t GuestRam::total_size() const {
  uint64_t total = 0;
  for (const auto& r : regions_) total += r.size;
  return total;
}

uint8_t* GuestRam::host_ptr(uint64_t gpa, uint64_t len) const {
  for (const auto& r : regions_) {
    if (r.contains(gpa, len)) return r.host + (gpa - r.gpa);
  }
  return nullptr;
}

bool GuestRam::read(uint64_t gpa, std::span<uint8_t> out) const {
  const uint8_t* p = host_ptr(gpa, out.size());
  if (!p) return false;
  std::memcpy(out.data(), p, out.size());
  return true;
}

bool GuestRam::write(uint64_t gpa, std::span<const uint8_t> in) const {
  uint8_t* p = host_ptr(gpa, in.size());
  if (!p) return false;
  std::memcpy(p, in.data(), in.size());
  return true;
}

void GuestRam::read_or_throw(uint64_t gpa, std::span<uint8_t> out) const {
  if (!read(gpa, out)) {
    throw GuestMemoryError(
        fmt::format("guest read of {} bytes at {:#x} is outside RAM", out.size(), gpa));
  }
}

void GuestRam::write_or_throw(uint64_t gpa, std::span<const uint8_t> in) const {
  if (!write(gpa, in)) {
    throw GuestMemoryError(
        fmt::format("guest write of {} bytes at {:#x} is outside RAM", in.size(), gpa));
  }
}

}  // namespace tandem
