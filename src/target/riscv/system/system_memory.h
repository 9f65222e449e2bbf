// A hart's view of memory in full-system mode: Sv39/Sv48 translation (per the privileged
// specification: permission checks with SUM/MXR, superpage alignment, A/D bits set by the
// hardware with an atomic PTE update), PMP checks, and physical dispatch to RAM or MMIO.
//
// translate() (the interpreter's GuestMemory seam) only ever returns host pointers into RAM,
// cached per 4 KiB page in the software TLB that the translator's generated code also reads
// inline (accel/tcg/softmmu.h). Everything else (MMIO, accesses that cross a page) returns
// nullptr with last_fault().kind == kSlow, and the caller emulates that load/store through
// access() instead. The TLB is flushed on satp writes, sfence.vma and changes of
// MPRV/MPP/MXR/PMP. Entries are kept per translation context (the effective privilege, and SUM
// for S-mode data accesses), so traps, xRET and the SUM toggling around Linux's user copies do
// not flush anything.
//
// With the translator, stores into RAM pages holding translated code (CodePages) drop those
// translations first, whichever path the store takes.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "accel/tcg/softmmu.h"
#include "memory/guest_ram.h"
#include "memory/io_bus.h"
#include "target/riscv/guest_memory.h"
#include "target/riscv/system/priv_state.h"

namespace tandem::riscv {

enum class FaultKind : uint8_t { kNone, kPage, kAccess, kSlow };

struct MemFault {
  FaultKind kind = FaultKind::kNone;
  uint64_t vaddr = 0;
};

// The trap cause a fault of `kind` during `access` raises.
uint64_t fault_cause(FaultKind kind, Access access);

class SystemMemory final : public GuestMemory, public tcg::SystemCpu {
 public:
  SystemMemory(const GuestRam& ram, const IoBus& mmio, PrivState& priv);

  uint8_t* translate(uint64_t addr, uint64_t len, Access access) override;

  // Virtual -> physical for one byte at the current privilege (MPRV applies to reads/writes),
  // with page-table and PMP checks for `len` bytes from `vaddr` (within one page). Not cached.
  FaultKind resolve(uint64_t vaddr, uint64_t len, Access access, uint64_t& paddr,
                    unsigned* leaf_level = nullptr);

  // A load or store of any size and alignment, through translation, to RAM or MMIO. Nothing is
  // written unless every byte translates. On failure returns the fault (vaddr = `vaddr`).
  MemFault access(uint64_t vaddr, std::span<uint8_t> data, Access access);

  // Physical access (RAM or MMIO); false for an address nothing claims.
  bool phys_read(uint64_t paddr, std::span<uint8_t> data);
  bool phys_write(uint64_t paddr, std::span<const uint8_t> data);

  void flush_tlb();
  // sfence.vma with an address: only that page's entries go (and, when the address lies in a
  // superpage whose pages are cached, everything).
  void flush_tlb_page(uint64_t vaddr);
  const MemFault& last_fault() const { return fault_; }
  uint64_t full_flushes = 0, page_flushes = 0;  // statistics
  void set_fault(const MemFault& f) { fault_ = f; }

  // The translator's view (accel/tcg/softmmu.h).
  void set_code_pages(tcg::CodePages* pages);
  tcg::SoftTlb* tlb() { return tlb_.get(); }
  uint32_t tb_flags() const override;
  bool code_phys(uint64_t pc, uint64_t* paddr) override;
  uint64_t tlb_generation() const override { return generation_; }
  const std::vector<uint64_t>& flushed_pages() const override { return flushed_pages_; }
  void clear_flushed_pages() override { flushed_pages_.clear(); }
  const tcg::SoftMmuHelpers& helpers() const override;
  tcg::CodePages& code_pages() override { return *code_; }

 private:
  // `leaf_level` (if given): 0 for a 4 KiB page, 1 for 2 MiB, 2 for 1 GiB, ...; 0 when bare.
  FaultKind walk(uint64_t vaddr, Access access, Priv p, uint64_t& paddr,
                 unsigned* leaf_level = nullptr);
  // 0 U, 1 S, 2 M, 3 S with SUM (data accesses only).
 public:
  unsigned context(Access access) const {
    const Priv p = access == Access::kExec ? priv_.priv : priv_.data_priv();
    if (p == Priv::kM) return 2;
    if (p == Priv::kS && access != Access::kExec && (priv_.mstatus & mstatus_bits::kSum)) {
      return 3;
    }
    return static_cast<unsigned>(p);
  }

 private:
  uint64_t host_to_phys(const uint8_t* host) const;
  void note_superpage(uint64_t vaddr, unsigned level);

  const GuestRam& ram_;
  const IoBus& mmio_;
  PrivState& priv_;
  std::unique_ptr<tcg::SoftTlb> tlb_;
  tcg::CodePages* code_ = nullptr;
  uint64_t generation_ = 0;
  std::vector<uint64_t> flushed_pages_;  // single-page flushes since the last full one
  // Virtual ranges of the superpages the TLB holds pages of, since the last full flush.
  std::vector<std::pair<uint64_t, uint64_t>> superpages_;
  bool superpages_overflow_ = false;
  MemFault fault_;
};

}  // namespace tandem::riscv
