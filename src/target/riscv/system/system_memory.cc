#include "target/riscv/system/system_memory.h"

#include <cstring>

namespace tandem::riscv {
namespace {

constexpr uint64_t kPteV = 1, kPteR = 2, kPteW = 4, kPteX = 8, kPteU = 16, kPteA = 64, kPteD = 128;
constexpr uint64_t kPageSize = 4096;

}  // namespace

uint64_t fault_cause(FaultKind kind, Access access) {
  const bool page = kind == FaultKind::kPage;
  switch (access) {
    case Access::kRead:
      return page ? kLoadPageFault : kLoadAccessFault;
    case Access::kWrite:
      return page ? kStorePageFault : kStoreAccessFault;
    case Access::kExec:
      return page ? kInsnPageFault : kInsnAccessFault;
  }
  return kLoadAccessFault;
}

SystemMemory::SystemMemory(const GuestRam& ram, const IoBus& mmio, PrivState& priv)
    : ram_(ram), mmio_(mmio), priv_(priv), tlb_(std::make_unique<tcg::SoftTlb>()) {}

void SystemMemory::set_code_pages(tcg::CodePages* pages) {
  code_ = pages;
  if (pages) pages->add_tlb(tlb_.get());
}

void SystemMemory::flush_tlb() {
  for (auto& table : tlb_->entry) {
    for (auto& e : table) e = tcg::SoftTlbEntry{};
  }
  ++generation_;
  ++full_flushes;
  flushed_pages_.clear();
  superpages_.clear();
  superpages_overflow_ = false;
}

void SystemMemory::note_superpage(uint64_t vaddr, unsigned level) {
  const uint64_t size = kPageSize << (9 * level);
  const uint64_t base = vaddr & ~(size - 1);
  for (const auto& r : superpages_) {
    if (r.first == base && r.second == size) return;
  }
  if (superpages_.size() >= 32) {
    superpages_overflow_ = true;
    return;
  }
  superpages_.push_back({base, size});
}

void SystemMemory::flush_tlb_page(uint64_t vaddr) {
  const uint64_t vpage = vaddr & ~(kPageSize - 1);
  bool in_superpage = superpages_overflow_;
  for (const auto& [base, size] : superpages_) in_superpage |= vaddr - base < size;
  if (in_superpage || flushed_pages_.size() >= 64) return flush_tlb();
  ++page_flushes;
  for (auto& table : tlb_->entry) {
    tcg::SoftTlbEntry& e = table[tcg::SoftTlb::index(vaddr)];
    for (uint64_t t : e.tag) {
      if (t != tcg::kTlbInvalid && (t & ~(kPageSize - 1)) == vpage) {
        e = tcg::SoftTlbEntry{};
        break;
      }
    }
  }
  flushed_pages_.push_back(vpage);
}

uint64_t SystemMemory::host_to_phys(const uint8_t* host) const {
  for (const RamRegion& r : ram_.regions()) {
    if (host >= r.host && host < r.host + r.size) return r.gpa + (host - r.host);
  }
  return ~uint64_t{0};
}

uint32_t SystemMemory::tb_flags() const {
  uint32_t f = tcg::tb_flags::kSystem | context(Access::kRead);
  f |= static_cast<uint32_t>(priv_.priv) << tcg::tb_flags::kPrivShift;
  if (priv_.fp_enabled()) f |= tcg::tb_flags::kFpEnabled;
  return f;
}

bool SystemMemory::code_phys(uint64_t pc, uint64_t* paddr) {
  const uint8_t* host = translate(pc, 2, Access::kExec);
  if (!host) return false;
  *paddr = host_to_phys(host);
  return true;
}

FaultKind SystemMemory::walk(uint64_t vaddr, Access access, Priv p, uint64_t& paddr,
                             unsigned* leaf_level) {
  const uint64_t mode = priv_.satp >> 60;
  if (leaf_level) *leaf_level = 0;
  if (p == Priv::kM || mode == kSatpBare) {
    paddr = vaddr;
    return FaultKind::kNone;
  }
  const unsigned levels = mode == kSatpSv48 ? 4 : 3;
  const unsigned va_bits = 12 + 9 * levels;
  // The upper bits must all equal bit va_bits - 1.
  const int64_t sv = static_cast<int64_t>(vaddr) >> (va_bits - 1);
  if (sv != 0 && sv != -1) return FaultKind::kPage;
  const uint64_t status = priv_.mstatus;
  for (;;) {  // restarts when the A/D update races with another writer
    uint64_t table = (priv_.satp & ((1ull << 44) - 1)) * kPageSize;
    for (int level = static_cast<int>(levels) - 1; level >= 0; --level) {
      const uint64_t vpn = (vaddr >> (12 + 9 * level)) & 511;
      const uint64_t pte_addr = table + vpn * 8;
      if (!priv_.pmp_allows(pte_addr, 8, Access::kRead, Priv::kS)) return FaultKind::kAccess;
      uint8_t* host = ram_.host_ptr(pte_addr, 8);
      if (!host) return FaultKind::kAccess;
      uint64_t pte = __atomic_load_n(reinterpret_cast<uint64_t*>(host), __ATOMIC_ACQUIRE);
      // N (Svnapot), PBMT (Svpbmt) and the reserved bits are not implemented: nonzero faults.
      if (!(pte & kPteV) || (!(pte & kPteR) && (pte & kPteW)) || (pte >> 54) != 0) {
        return FaultKind::kPage;
      }
      const uint64_t ppn = (pte >> 10) & ((1ull << 44) - 1);
      if (!(pte & (kPteR | kPteX))) {  // pointer to the next level
        if (pte & (kPteA | kPteD | kPteU)) return FaultKind::kPage;
        table = ppn * kPageSize;
        continue;
      }
      // Leaf.
      if (p == Priv::kU && !(pte & kPteU)) return FaultKind::kPage;
      if (p == Priv::kS && (pte & kPteU) &&
          (access == Access::kExec || !(status & mstatus_bits::kSum))) {
        return FaultKind::kPage;
      }
      bool ok = false;
      switch (access) {
        case Access::kRead:
          ok = (pte & kPteR) || ((status & mstatus_bits::kMxr) && (pte & kPteX));
          break;
        case Access::kWrite:
          ok = pte & kPteW;
          break;
        case Access::kExec:
          ok = pte & kPteX;
          break;
      }
      if (!ok) return FaultKind::kPage;
      const uint64_t low_mask = (1ull << (9 * level)) - 1;
      if (ppn & low_mask) return FaultKind::kPage;  // misaligned superpage
      uint64_t want = pte | kPteA;
      if (access == Access::kWrite) want |= kPteD;
      if (want != pte) {
        if (!priv_.pmp_allows(pte_addr, 8, Access::kWrite, Priv::kS)) return FaultKind::kAccess;
        if (!__atomic_compare_exchange_n(reinterpret_cast<uint64_t*>(host), &pte, want, false,
                                         __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
          goto restart;
        }
      }
      paddr = ((ppn & ~low_mask) | ((vaddr >> 12) & low_mask)) * kPageSize + (vaddr & 4095);
      if (leaf_level) *leaf_level = static_cast<unsigned>(level);
      return FaultKind::kNone;
    }
    return FaultKind::kPage;  // no leaf at level 0
  restart:;
  }
}

FaultKind SystemMemory::resolve(uint64_t vaddr, uint64_t len, Access access, uint64_t& paddr,
                                unsigned* leaf_level) {
  const Priv p = access == Access::kExec ? priv_.priv : priv_.data_priv();
  const FaultKind k = walk(vaddr, access, p, paddr, leaf_level);
  if (k != FaultKind::kNone) return k;
  if (!priv_.pmp_allows(paddr, len, access, p)) return FaultKind::kAccess;
  return FaultKind::kNone;
}

uint8_t* SystemMemory::translate(uint64_t addr, uint64_t len, Access access) {
  const uint64_t vpn = addr >> 12;
  const uint64_t offset = addr & 4095;
  if (offset + len > kPageSize) {
    fault_ = {FaultKind::kSlow, addr};
    return nullptr;
  }
  const unsigned a = static_cast<unsigned>(access);
  tcg::SoftTlbEntry& e = tlb_->entry[context(access)][tcg::SoftTlb::index(addr)];
  const uint64_t vpage = vpn << 12;
  if (e.tag[a] == vpage) return reinterpret_cast<uint8_t*>(addr + e.addend);
  uint64_t paddr;
  unsigned level = 0;
  const FaultKind k = resolve(addr, len, access, paddr, &level);
  if (k != FaultKind::kNone) {
    fault_ = {k, addr};
    return nullptr;
  }
  const uint64_t page = paddr & ~(kPageSize - 1);
  uint8_t* host = ram_.host_ptr(page, kPageSize);
  if (!host) {
    // MMIO: loads/stores are emulated by the hart; code cannot run from it.
    fault_ = {access == Access::kExec ? FaultKind::kAccess : FaultKind::kSlow, addr};
    return nullptr;
  }
  // A store into a page holding translated code: those translations go first.
  if (access == Access::kWrite && code_ && code_->has_code(page)) code_->invalidate(page);
  const Priv p = access == Access::kExec ? priv_.priv : priv_.data_priv();
  if (priv_.pmp_page_uniform(page, access, p)) {
    const int64_t addend = static_cast<int64_t>(reinterpret_cast<uintptr_t>(host) - vpage);
    bool other = e.addend != addend;
    for (uint64_t t : e.tag) {
      if (t != tcg::kTlbInvalid && (t & ~uint64_t{4095}) != vpage) other = true;
    }
    if (other) {
      e = tcg::SoftTlbEntry{};
      e.addend = addend;
    }
    e.tag[a] = vpage;
    if (level > 0) note_superpage(addr, level);
  }
  return host + offset;
}

bool SystemMemory::phys_read(uint64_t paddr, std::span<uint8_t> data) {
  if (uint8_t* h = ram_.host_ptr(paddr, data.size())) {
    std::memcpy(data.data(), h, data.size());
    return true;
  }
  return mmio_.read(paddr, data);
}

bool SystemMemory::phys_write(uint64_t paddr, std::span<const uint8_t> data) {
  if (uint8_t* h = ram_.host_ptr(paddr, data.size())) {
    if (code_) code_->invalidate_range(paddr, data.size());
    std::memcpy(h, data.data(), data.size());
    return true;
  }
  return mmio_.write(paddr, data);
}

MemFault SystemMemory::access(uint64_t vaddr, std::span<uint8_t> data, Access access) {
  const uint64_t len = data.size();
  const uint64_t first_len = std::min<uint64_t>(len, kPageSize - (vaddr & 4095));
  uint64_t pa0 = 0, pa1 = 0;
  FaultKind k = resolve(vaddr, first_len, access, pa0);
  if (k != FaultKind::kNone) return {k, vaddr};
  if (first_len < len) {
    k = resolve(vaddr + first_len, len - first_len, access, pa1);
    if (k != FaultKind::kNone) return {k, vaddr};
  }
  auto piece = [&](uint64_t pa, std::span<uint8_t> part) {
    if (access == Access::kWrite) return phys_write(pa, part);
    return phys_read(pa, part);
  };
  if (!piece(pa0, data.subspan(0, first_len))) return {FaultKind::kAccess, vaddr};
  if (first_len < len && !piece(pa1, data.subspan(first_len))) {
    return {FaultKind::kAccess, vaddr};
  }
  return {};
}

}  // namespace tandem::riscv
