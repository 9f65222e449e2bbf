// The softmmu: how translated code reaches guest memory in full-system mode.
//
// Each hart has a software TLB (SoftTlb) that generated code consults inline for every load and
// store: the entry for the access's page is found from the virtual address, its tag compared
// with the page (plus the low address bits that make an access misaligned, so those miss), and
// on a hit the host address is vaddr + addend. Misses, MMIO, misaligned accesses and faults go
// to the slow-path helpers (SoftMmuHelpers), which walk the page tables, fill the entry and do
// the access, or report the fault for a precise guest trap.
//
// The TLB has one table per translation context (U, S, M, S with SUM), chosen when a block is
// translated: the context is part of the block's flags, so traps, xRET and Linux's SUM
// toggling never flush anything.
//
// Translated code is keyed by physical address. CodePages knows which physical pages hold
// translated code; write entries for those pages carry kTlbNotDirty, so stores there take the
// slow path, which drops the translations on the page first (self-modifying code, a page
// reused for another program's code).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "memory/guest_ram.h"
#include "target/riscv/cpu_state.h"

namespace tandem::tcg {

inline constexpr uint64_t kTlbInvalid = ~uint64_t{0};
// In a write tag: the page holds translated code (never equal to a masked address, so generated
// code always misses and the slow path sees the store).
inline constexpr uint64_t kTlbNotDirty = uint64_t{1} << 11;

struct SoftTlbEntry {
  uint64_t tag[3] = {kTlbInvalid, kTlbInvalid, kTlbInvalid};  // by riscv::Access: page vaddr
  int64_t addend = 0;                                         // host = vaddr + addend
};
static_assert(sizeof(SoftTlbEntry) == 32);

inline constexpr unsigned kTlbBits = 9;
inline constexpr unsigned kTlbSize = 1u << kTlbBits;
inline constexpr unsigned kTlbContexts = 4;  // 0 U, 1 S, 2 M, 3 S with SUM

struct SoftTlb {
  SoftTlbEntry entry[kTlbContexts][kTlbSize];
  static unsigned index(uint64_t vaddr) { return (vaddr >> 12) & (kTlbSize - 1); }
};
inline constexpr int kTlbContextStride = kTlbSize * sizeof(SoftTlbEntry);

// Block flags in full-system mode (0 in user mode). They fit in 7 bits: the jump cache mixes
// them into bits 56..62 of its key.
namespace tb_flags {
inline constexpr uint32_t kDataContextMask = 3;  // the TLB context of loads and stores
inline constexpr uint32_t kPrivShift = 2;        // 2 bits: U 0, S 1, M 3
inline constexpr uint32_t kFpEnabled = 1u << 4;  // mstatus.FS != Off
inline constexpr uint32_t kSystem = 1u << 5;
}  // namespace tb_flags

// mem_fault values the helpers leave in CpuState.
inline constexpr uint32_t kMemFaultNone = 0, kMemFaultAccess = 1, kMemFaultMisaligned = 2;

// Slow paths, called from generated code through CodeBuffer::save_all_thunk(): all take
// (env, a0, a1, a2) and return the loaded / old value. On a fault they set env->mem_fault and
// the caller leaves the block with a precise guest exit.
using SoftMmuHelper = uint64_t (*)(riscv::CpuState* env, uint64_t, uint64_t, uint64_t);
struct SoftMmuHelpers {
  SoftMmuHelper load = nullptr;    // (vaddr, memop, -): the raw bits, sign-extended if asked
  SoftMmuHelper store = nullptr;   // (vaddr, memop, value)
  SoftMmuHelper atomic = nullptr;  // (vaddr, value, atomic_desc())
};
// Descriptor of an atomic for SoftMmuHelpers::atomic: the IR opcode, its memop and AmoKind.
inline uint64_t atomic_desc(uint32_t opc, uint32_t memop, uint32_t amo_kind) {
  return opc | (memop << 8) | (amo_kind << 16);
}

// Which guest-physical RAM pages hold translated code, shared by the harts of a machine.
class CodePages {
 public:
  explicit CodePages(const GuestRam& ram);

  bool has_code(uint64_t paddr) const {
    const uint64_t i = bit_index(paddr);
    return i != kNone && ((bits_[i / 64] >> (i % 64)) & 1);
  }
  // An engine translated code on the page of `paddr`: stores there must take the slow path, so
  // every registered TLB forgets its fast write entries for the page.
  void add(uint64_t paddr);
  // A store (or the host on the guest's behalf) is about to change the page: every engine drops
  // its translations there and the page is plain RAM again.
  void invalidate(uint64_t paddr);
  // Invalidates every code page that intersects [paddr, paddr + len).
  void invalidate_range(uint64_t paddr, uint64_t len);

  // Devices write guest RAM behind the harts' backs (DMA). They note the pages here (any
  // thread), and a fence.i drops the translations of those pages: the RISC-V way to make
  // instruction fetches see such writes (Linux does it before mapping such a page executable).
  void note_device_write(uint64_t paddr, uint64_t len);
  void invalidate_device_written();

  void add_tlb(SoftTlb* tlb) { tlbs_.push_back(tlb); }
  void add_listener(std::function<void(uint64_t page)> on_invalidate) {
    listeners_.push_back(std::move(on_invalidate));
  }

 private:
  static constexpr uint64_t kNone = ~uint64_t{0};
  uint64_t bit_index(uint64_t paddr) const;
  uint64_t page_of_bit(uint64_t bit) const;

  const GuestRam& ram_;
  std::vector<uint64_t> bits_;
  std::unique_ptr<std::atomic<uint64_t>[]> device_written_;  // one bit per page, like bits_
  std::atomic<bool> any_device_written_{false};
  std::vector<uint64_t> region_first_bit_;
  std::vector<SoftTlb*> tlbs_;
  std::vector<std::function<void(uint64_t)>> listeners_;
};

// What the engine asks of a full-system hart.
class SystemCpu {
 public:
  virtual ~SystemCpu() = default;
  // The flags (tb_flags above) blocks run now must have been translated for.
  virtual uint32_t tb_flags() const = 0;
  // Physical address of the instruction at pc; false on a fetch fault (recorded for the trap).
  virtual bool code_phys(uint64_t pc, uint64_t* paddr) = 0;
  // Bumped on every full TLB flush: caches keyed by virtual pc are stale then.
  virtual uint64_t tlb_generation() const = 0;
  // Pages flushed one by one (sfence.vma with an address) since clear_flushed_pages().
  virtual const std::vector<uint64_t>& flushed_pages() const = 0;
  virtual void clear_flushed_pages() = 0;
  virtual const SoftMmuHelpers& helpers() const = 0;
  virtual CodePages& code_pages() = 0;
};

}  // namespace tandem::tcg
