// A hart's view of memory in full-system mode: Sv39/Sv48 translation (per the privileged
// specification: permission checks with SUM/MXR, superpage alignment, A/D bits set by the
// hardware with an atomic PTE update), PMP checks, and physical dispatch to RAM or MMIO.
//
// translate() (the interpreter's GuestMemory seam) only ever returns host pointers into RAM,
// cached per 4 KiB page in a direct-mapped software TLB per access type. Everything else
// (MMIO, accesses that cross a page) returns nullptr with last_fault().kind == kSlow, and the
// hart emulates that load/store through access() instead. The TLB is flushed on satp writes,
// sfence.vma and changes of MPRV/MPP/MXR/PMP. Entries are kept per translation context (the
// effective privilege, and SUM for S-mode data accesses), so traps, xRET and the SUM toggling
// around Linux's user copies do not flush anything.
#pragma once

#include <cstdint>
#include <span>

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

class SystemMemory final : public GuestMemory {
 public:
  SystemMemory(const GuestRam& ram, const IoBus& mmio, PrivState& priv)
      : ram_(ram), mmio_(mmio), priv_(priv) {}

  uint8_t* translate(uint64_t addr, uint64_t len, Access access) override;

  // Virtual -> physical for one byte at the current privilege (MPRV applies to reads/writes),
  // with page-table and PMP checks for `len` bytes from `vaddr` (within one page). Not cached.
  FaultKind resolve(uint64_t vaddr, uint64_t len, Access access, uint64_t& paddr);

  // A load or store of any size and alignment, through translation, to RAM or MMIO. Nothing is
  // written unless every byte translates. On failure returns the fault (vaddr = `vaddr`).
  MemFault access(uint64_t vaddr, std::span<uint8_t> data, Access access);

  // Physical access (RAM or MMIO); false for an address nothing claims.
  bool phys_read(uint64_t paddr, std::span<uint8_t> data);
  bool phys_write(uint64_t paddr, std::span<const uint8_t> data);

  void flush_tlb();
  const MemFault& last_fault() const { return fault_; }

 private:
  struct TlbEntry {
    uint64_t vpn = ~0ull;
    uint8_t* host = nullptr;  // host address of the page
  };
  static constexpr unsigned kTlbBits = 8;

  FaultKind walk(uint64_t vaddr, Access access, Priv p, uint64_t& paddr);
  // 0 U, 1 S, 2 M, 3 S with SUM (data accesses only).
  unsigned context(Access access) const {
    const Priv p = access == Access::kExec ? priv_.priv : priv_.data_priv();
    if (p == Priv::kM) return 2;
    if (p == Priv::kS && access != Access::kExec && (priv_.mstatus & mstatus_bits::kSum)) {
      return 3;
    }
    return static_cast<unsigned>(p);
  }

  const GuestRam& ram_;
  const IoBus& mmio_;
  PrivState& priv_;
  TlbEntry tlb_[4][3][1u << kTlbBits];
  MemFault fault_;
};

}  // namespace tandem::riscv
