// A user-mode guest's address space: one reserved host VA window; guest address a lives at
// host address base() + a for a < limit(). The window is placed at host address 0 when that
// range is free (it is in a normal process; not under ASan, whose shadow lives there): then
// guest addresses are host addresses and generated code addresses guest memory without adding
// a base (one addressing mode left for the address itself, e.g. [table + index*4]). Otherwise
// it goes wherever the kernel puts it. Guest mappings are host mappings inside the window
// with the same read/write protection (so generated code may access memory directly and rely on
// host SIGSEGV); unmapped guest pages are PROT_NONE host pages. Execute permission is tracked
// here only (host pages are never executable).
#pragma once

#include <sys/mman.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "base/mapping.h"
#include "target/riscv/guest_memory.h"

namespace tandem::user {

constexpr uint64_t kPageSize = 4096;
inline uint64_t page_down(uint64_t a) {
  return a & ~(kPageSize - 1);
}
inline uint64_t page_up(uint64_t a) {
  return (a + kPageSize - 1) & ~(kPageSize - 1);
}

class AddressSpace : public riscv::GuestMemory {
 public:
  // Reserves 2^window_bits bytes of host address space (no memory is committed), at host
  // address 0 if `at_zero` and that range is free.
  explicit AddressSpace(unsigned window_bits = 38, bool at_zero = true);

  // May be nullptr (the window at host address 0).
  uint8_t* base() const { return reinterpret_cast<uint8_t*>(base_); }
  // Host address of guest address addr (addr < limit()).
  uint8_t* host(uint64_t addr) const { return reinterpret_cast<uint8_t*>(base_ + addr); }
  uint64_t limit() const { return limit_; }
  // Guest pages below this can never be mapped (the host's vm.mmap_min_addr, when at 0).
  uint64_t lowest_mappable() const { return lowest_; }

  // GuestMemory.
  uint8_t* translate(uint64_t addr, uint64_t len, riscv::Access access) override;

  // Guest address of a host address inside the window (for host SIGSEGV in generated code).
  std::optional<uint64_t> guest_address_of(const void* host) const;

  // Maps [addr, addr + len) (page-aligned) with prot (PROT_READ/WRITE/EXEC), replacing whatever
  // was there. fd < 0: zero-filled anonymous memory; else the file at `offset` with `flags`
  // (MAP_SHARED or MAP_PRIVATE). Returns 0 or -errno.
  int map_fixed(uint64_t addr, uint64_t len, int prot, int flags = MAP_PRIVATE, int fd = -1,
                uint64_t offset = 0);
  // Unmaps [addr, addr + len) (page-aligned). Returns 0 or -errno.
  int unmap(uint64_t addr, uint64_t len);
  // Changes protection; every page must be mapped (else -ENOMEM).
  int protect(uint64_t addr, uint64_t len, int prot);

  // Highest free range of len bytes below `below` (and above `above`), or nullopt.
  std::optional<uint64_t> find_free(uint64_t len, uint64_t below, uint64_t above = 0x10000) const;
  bool is_free(uint64_t addr, uint64_t len) const;
  bool is_mapped(uint64_t addr, uint64_t len) const;
  // Guest protection of one page (0 if unmapped; kMapped bit set when mapped).
  int page_prot(uint64_t addr) const;
  static constexpr int kMapped = 0x80;

  // Copies in/out of guest memory ignoring guest protection (loader, stack set-up). Throw
  // tandem::Error when a page is not mapped.
  void write_bytes(uint64_t addr, const void* data, uint64_t len);
  void read_bytes(uint64_t addr, void* data, uint64_t len) const;

 private:
  static constexpr unsigned kChunkBits = 14;  // pages per lazily allocated protection chunk
  uint8_t prot_of(uint64_t page) const;
  void set_prot(uint64_t first_page, uint64_t pages, uint8_t prot);
  void range_add(uint64_t start, uint64_t end);
  void range_remove(uint64_t start, uint64_t end);
  bool in_window(uint64_t addr, uint64_t len) const {
    return len <= limit_ && addr <= limit_ - len;
  }

  Mapping window_;  // the reservation (from lowest_ when the window is at 0)
  uintptr_t base_ = 0;
  uint64_t limit_;
  uint64_t lowest_ = 0;
  std::vector<std::unique_ptr<uint8_t[]>> chunks_;  // per-page guest prot, kMapped when mapped
  std::map<uint64_t, uint64_t> ranges_;             // mapped [start, end), coalesced
  uint64_t cached_page_ = ~0ull;                    // last page translate() approved...
  uint8_t cached_prot_ = 0;                         // ...and its protection
};

}  // namespace tandem::user
