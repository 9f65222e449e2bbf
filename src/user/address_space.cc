#include "user/address_space.h"

#include <cerrno>
#include <cstring>

#include "base/error.h"

namespace tandem::user {

namespace {
int host_prot(int prot) {
  int h = prot & (PROT_READ | PROT_WRITE);
  if ((prot & PROT_EXEC) && !(h & PROT_READ)) h |= PROT_READ;  // translator reads code
  return h;
}
}  // namespace

AddressSpace::AddressSpace(unsigned window_bits, bool at_zero) : limit_(1ull << window_bits) {
  // Linux's default vm.mmap_min_addr: nothing can be mapped below it (a guest's null page stays
  // unmapped, as under a riscv64 kernel with the same setting).
  constexpr uint64_t kLowest = 0x10000;
  if (at_zero && limit_ > kLowest) {
    void* p = ::mmap(reinterpret_cast<void*>(kLowest), limit_ - kLowest, PROT_NONE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == reinterpret_cast<void*>(kLowest)) {
      window_ = Mapping(p, limit_ - kLowest);
      lowest_ = kLowest;
    } else if (p != MAP_FAILED) {
      ::munmap(p, limit_ - kLowest);  // a kernel without MAP_FIXED_NOREPLACE placed it elsewhere
    }
  }
  if (!window_.data()) {
    window_ = Mapping::anonymous(limit_, PROT_NONE, MAP_NORESERVE);
    base_ = reinterpret_cast<uintptr_t>(window_.data());
  }
  chunks_.resize((limit_ / kPageSize) >> kChunkBits);
}

uint8_t AddressSpace::prot_of(uint64_t page) const {
  const auto& chunk = chunks_[page >> kChunkBits];
  return chunk ? chunk[page & ((1u << kChunkBits) - 1)] : 0;
}

void AddressSpace::set_prot(uint64_t first_page, uint64_t pages, uint8_t prot) {
  for (uint64_t p = first_page; p < first_page + pages; ++p) {
    auto& chunk = chunks_[p >> kChunkBits];
    if (!chunk) {
      if (prot == 0) continue;
      chunk = std::make_unique<uint8_t[]>(1u << kChunkBits);  // zeroed
    }
    chunk[p & ((1u << kChunkBits) - 1)] = prot;
  }
  cached_page_ = ~0ull;
}

int AddressSpace::page_prot(uint64_t addr) const {
  if (addr >= limit_) return 0;
  return prot_of(addr / kPageSize);
}

uint8_t* AddressSpace::translate(uint64_t addr, uint64_t len, riscv::Access access) {
  if (len == 0 || !in_window(addr, len)) return nullptr;
  const uint8_t need = access == riscv::Access::kRead    ? PROT_READ
                       : access == riscv::Access::kWrite ? PROT_WRITE
                                                         : PROT_EXEC;
  const uint64_t first = addr / kPageSize, last = (addr + len - 1) / kPageSize;
  for (uint64_t p = first; p <= last; ++p) {
    uint8_t prot;
    if (p == cached_page_) {
      prot = cached_prot_;
    } else {
      prot = prot_of(p);
      cached_page_ = p;
      cached_prot_ = prot;
    }
    if (!(prot & need)) return nullptr;
  }
  return host(addr);
}

std::optional<uint64_t> AddressSpace::guest_address_of(const void* host) const {
  const auto h = reinterpret_cast<uintptr_t>(host);
  if (h < base_ || h - base_ >= limit_) return std::nullopt;
  return h - base_;
}

void AddressSpace::range_add(uint64_t start, uint64_t end) {
  range_remove(start, end);
  auto next = ranges_.lower_bound(start);
  if (next != ranges_.begin()) {
    auto prev = std::prev(next);
    if (prev->second == start) {
      start = prev->first;
      ranges_.erase(prev);
    }
  }
  next = ranges_.find(end);
  if (next != ranges_.end()) {
    end = next->second;
    ranges_.erase(next);
  }
  ranges_[start] = end;
}

void AddressSpace::range_remove(uint64_t start, uint64_t end) {
  auto it = ranges_.lower_bound(start);
  if (it != ranges_.begin()) {
    auto prev = std::prev(it);
    if (prev->second > start) {
      const uint64_t prev_end = prev->second;
      prev->second = start;
      if (prev_end > end) ranges_[end] = prev_end;
    }
  }
  it = ranges_.lower_bound(start);
  while (it != ranges_.end() && it->first < end) {
    const uint64_t e = it->second;
    it = ranges_.erase(it);
    if (e > end) {
      ranges_[end] = e;
      break;
    }
  }
}

int AddressSpace::map_fixed(uint64_t addr, uint64_t len, int prot, int flags, int fd,
                            uint64_t offset) {
  if ((addr | len) & (kPageSize - 1) || len == 0 || !in_window(addr, len)) return -EINVAL;
  if (addr < lowest_) return -EPERM;  // as Linux answers a MAP_FIXED below mmap_min_addr
  int host_flags = MAP_FIXED | (flags & (MAP_SHARED | MAP_PRIVATE | MAP_NORESERVE));
  if (fd < 0) host_flags |= MAP_ANONYMOUS;
  void* p = ::mmap(host(addr), len, host_prot(prot), host_flags, fd, static_cast<off_t>(offset));
  if (p == MAP_FAILED) {
    const int err = errno;
    // Leave the range as a hole; the old contents may be gone already.
    ::mmap(host(addr), len, PROT_NONE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
           0);
    set_prot(addr / kPageSize, len / kPageSize, 0);
    range_remove(addr, addr + len);
    return -err;
  }
  set_prot(addr / kPageSize, len / kPageSize,
           static_cast<uint8_t>((prot & (PROT_READ | PROT_WRITE | PROT_EXEC)) | kMapped));
  range_add(addr, addr + len);
  return 0;
}

int AddressSpace::unmap(uint64_t addr, uint64_t len) {
  if ((addr | len) & (kPageSize - 1) || len == 0 || !in_window(addr, len)) return -EINVAL;
  if (addr < lowest_) {  // nothing is ever mapped there
    if (addr + len <= lowest_) return 0;
    len -= lowest_ - addr;
    addr = lowest_;
  }
  void* p = ::mmap(host(addr), len, PROT_NONE,
                   MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return -errno;
  set_prot(addr / kPageSize, len / kPageSize, 0);
  range_remove(addr, addr + len);
  return 0;
}

int AddressSpace::protect(uint64_t addr, uint64_t len, int prot) {
  if ((addr | len) & (kPageSize - 1) || !in_window(addr, len)) return -EINVAL;
  if (len == 0) return 0;
  if (!is_mapped(addr, len)) return -ENOMEM;
  if (::mprotect(host(addr), len, host_prot(prot)) != 0) return -errno;
  set_prot(addr / kPageSize, len / kPageSize,
           static_cast<uint8_t>((prot & (PROT_READ | PROT_WRITE | PROT_EXEC)) | kMapped));
  return 0;
}

bool AddressSpace::is_mapped(uint64_t addr, uint64_t len) const {
  if (!in_window(addr, len)) return false;
  auto it = ranges_.upper_bound(addr);
  if (it == ranges_.begin()) return false;
  --it;
  return it->first <= addr && it->second >= addr + len;
}

bool AddressSpace::is_free(uint64_t addr, uint64_t len) const {
  if (!in_window(addr, len) || addr < lowest_) return false;
  auto it = ranges_.lower_bound(addr);
  if (it != ranges_.end() && it->first < addr + len) return false;
  if (it != ranges_.begin() && std::prev(it)->second > addr) return false;
  return true;
}

std::optional<uint64_t> AddressSpace::find_free(uint64_t len, uint64_t below,
                                                uint64_t above) const {
  above = std::max(above, lowest_);
  uint64_t gap_end = std::min(page_down(below), limit_);
  // Walk the gaps between mapped ranges from the top down.
  auto it = ranges_.lower_bound(gap_end);
  while (it != ranges_.begin()) {
    --it;
    if (it->second < gap_end) {
      const uint64_t gap_start = std::max(it->second, above);
      if (gap_end > gap_start && gap_end - gap_start >= len) return gap_end - len;
    }
    gap_end = std::min(gap_end, it->first);
    if (gap_end <= above) return std::nullopt;
  }
  if (gap_end > above && gap_end - above >= len) return gap_end - len;
  return std::nullopt;
}

void AddressSpace::write_bytes(uint64_t addr, const void* data, uint64_t len) {
  if (len == 0) return;
  if (!is_mapped(page_down(addr), page_up(addr + len) - page_down(addr))) {
    fail("guest address range 0x{:x}+0x{:x} is not mapped", addr, len);
  }
  std::memcpy(host(addr), data, len);
}

void AddressSpace::read_bytes(uint64_t addr, void* data, uint64_t len) const {
  if (len == 0) return;
  if (!is_mapped(page_down(addr), page_up(addr + len) - page_down(addr))) {
    fail("guest address range 0x{:x}+0x{:x} is not mapped", addr, len);
  }
  std::memcpy(data, host(addr), len);
}

}  // namespace tandem::user
