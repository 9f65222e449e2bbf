#include "accel/tcg/softmmu.h"

namespace tandem::tcg {

namespace {
constexpr uint64_t kPage = 4096;
}

CodePages::CodePages(const GuestRam& ram) : ram_(ram) {
  uint64_t total = 0;
  for (const RamRegion& r : ram.regions()) {
    region_first_bit_.push_back(total);
    total += (r.size + kPage - 1) / kPage;
  }
  bits_.assign((total + 63) / 64, 0);
  device_written_ = std::make_unique<std::atomic<uint64_t>[]>(bits_.size());
}

void CodePages::note_device_write(uint64_t paddr, uint64_t len) {
  if (len == 0) return;
  const uint64_t end = paddr + len < paddr ? UINT64_MAX : paddr + len;
  bool any = false;
  for (uint64_t page = paddr & ~(kPage - 1); page < end; page += kPage) {
    const uint64_t i = bit_index(page);
    if (i != kNone) {
      device_written_[i / 64].fetch_or(uint64_t{1} << (i % 64), std::memory_order_relaxed);
      any = true;
    }
    if (page + kPage < page) break;
  }
  if (any) any_device_written_.store(true, std::memory_order_release);
}

void CodePages::invalidate_device_written() {
  if (!any_device_written_.exchange(false, std::memory_order_acq_rel)) return;
  for (size_t w = 0; w < bits_.size(); ++w) {
    uint64_t written = device_written_[w].exchange(0, std::memory_order_acq_rel) & bits_[w];
    while (written) {
      const unsigned b = static_cast<unsigned>(__builtin_ctzll(written));
      written &= written - 1;
      invalidate(page_of_bit(w * 64 + b));
    }
  }
}

uint64_t CodePages::page_of_bit(uint64_t bit) const {
  const auto& regions = ram_.regions();
  for (size_t i = regions.size(); i-- > 0;) {
    if (bit >= region_first_bit_[i]) return regions[i].gpa + (bit - region_first_bit_[i]) * kPage;
  }
  return 0;
}

uint64_t CodePages::bit_index(uint64_t paddr) const {
  const auto& regions = ram_.regions();
  for (size_t i = 0; i < regions.size(); ++i) {
    if (paddr >= regions[i].gpa && paddr - regions[i].gpa < regions[i].size) {
      return region_first_bit_[i] + (paddr - regions[i].gpa) / kPage;
    }
  }
  return kNone;
}

void CodePages::add(uint64_t paddr) {
  const uint64_t i = bit_index(paddr);
  if (i == kNone || ((bits_[i / 64] >> (i % 64)) & 1)) return;
  bits_[i / 64] |= uint64_t{1} << (i % 64);
  // Fast write entries that reach this page must miss from now on.
  const uint8_t* host = ram_.host_ptr(paddr & ~(kPage - 1), kPage);
  for (SoftTlb* tlb : tlbs_) {
    for (auto& table : tlb->entry) {
      for (SoftTlbEntry& e : table) {
        const uint64_t tag = e.tag[1];
        if (tag == kTlbInvalid || (tag & kTlbNotDirty)) continue;
        if (reinterpret_cast<const uint8_t*>(tag + e.addend) == host) e.tag[1] = tag | kTlbNotDirty;
      }
    }
  }
}

void CodePages::invalidate(uint64_t paddr) {
  const uint64_t i = bit_index(paddr);
  if (i == kNone || !((bits_[i / 64] >> (i % 64)) & 1)) return;
  bits_[i / 64] &= ~(uint64_t{1} << (i % 64));
  const uint64_t page = paddr & ~(kPage - 1);
  for (auto& l : listeners_) l(page);
  // Write entries marked for this page may become fast again: they refill on their next miss.
  const uint8_t* host = ram_.host_ptr(page, kPage);
  for (SoftTlb* tlb : tlbs_) {
    for (auto& table : tlb->entry) {
      for (SoftTlbEntry& e : table) {
        const uint64_t tag = e.tag[1];
        if (tag == kTlbInvalid || !(tag & kTlbNotDirty)) continue;
        if (reinterpret_cast<const uint8_t*>((tag & ~kTlbNotDirty) + e.addend) == host) {
          e.tag[1] = tag & ~kTlbNotDirty;
        }
      }
    }
  }
}

void CodePages::invalidate_range(uint64_t paddr, uint64_t len) {
  if (len == 0) return;
  const uint64_t end = paddr + len < paddr ? UINT64_MAX : paddr + len;
  for (uint64_t page = paddr & ~(kPage - 1); page < end; page += kPage) {
    if (has_code(page)) invalidate(page);
    if (page + kPage < page) break;
  }
}

}  // namespace tandem::tcg
