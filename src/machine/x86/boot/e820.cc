#include "machine/x86/boot/e820.h"

#include <algorithm>

#include "base/error.h"

namespace tandem::x86 {

uint64_t low_ram_end(const GuestRam& ram) {
  for (const auto& r : ram.regions()) {
    if (r.gpa == 0) {
      if (r.size < kHighMemoryStart) {
        fail("guest RAM below 1 MiB is {:#x} bytes; the x86 boot path needs at least 1 MiB",
             r.size);
      }
      return r.size;
    }
  }
  fail("guest RAM has no region at address 0; the x86 boot path needs low memory");
}

std::vector<E820Entry> e820_map(const GuestRam& ram) {
  low_ram_end(ram);  // validates the low region
  std::vector<E820Entry> map;
  for (const auto& r : ram.regions()) {
    uint64_t end = r.gpa + r.size;
    if (r.gpa < kHighMemoryStart) {
      if (r.gpa < kEbdaStart) map.push_back({r.gpa, std::min(end, kEbdaStart) - r.gpa, kE820Ram});
      if (end > kHighMemoryStart)
        map.push_back({kHighMemoryStart, end - kHighMemoryStart, kE820Ram});
    } else {
      map.push_back({r.gpa, r.size, kE820Ram});
    }
  }
  map.push_back({kEbdaStart, kHighMemoryStart - kEbdaStart, kE820Reserved});
  std::sort(map.begin(), map.end(),
            [](const E820Entry& a, const E820Entry& b) { return a.addr < b.addr; });
  return map;
}

}  // namespace tandem::x86
