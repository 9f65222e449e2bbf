// The privileged state of one RV64 hart (machine and supervisor CSRs, the current privilege
// mode, PMP), kept apart from the user-level CpuState. CSR reads and writes apply the
// writability masks and WARL legalisation of the privileged specification (1.12).
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "target/riscv/guest_memory.h"

namespace tandem::riscv {

enum class Priv : uint8_t { kU = 0, kS = 1, kM = 3 };

namespace mstatus_bits {
inline constexpr uint64_t kSie = 1ull << 1;
inline constexpr uint64_t kMie = 1ull << 3;
inline constexpr uint64_t kSpie = 1ull << 5;
inline constexpr uint64_t kMpie = 1ull << 7;
inline constexpr uint64_t kSpp = 1ull << 8;
inline constexpr unsigned kMppShift = 11;
inline constexpr uint64_t kMpp = 3ull << kMppShift;
inline constexpr unsigned kFsShift = 13;
inline constexpr uint64_t kFs = 3ull << kFsShift;
inline constexpr uint64_t kMprv = 1ull << 17;
inline constexpr uint64_t kSum = 1ull << 18;
inline constexpr uint64_t kMxr = 1ull << 19;
inline constexpr uint64_t kTvm = 1ull << 20;
inline constexpr uint64_t kTw = 1ull << 21;
inline constexpr uint64_t kTsr = 1ull << 22;
inline constexpr uint64_t kUxl = 3ull << 32;  // read-only 2 (64-bit)
inline constexpr uint64_t kSxl = 3ull << 34;  // read-only 2
inline constexpr uint64_t kSd = 1ull << 63;
// What M-mode may write, and the sstatus view of it.
inline constexpr uint64_t kWritable =
    kSie | kMie | kSpie | kMpie | kSpp | kMpp | kFs | kMprv | kSum | kMxr | kTvm | kTw | kTsr;
inline constexpr uint64_t kSstatusMask = kSie | kSpie | kSpp | kFs | kSum | kMxr | kUxl | kSd;
}  // namespace mstatus_bits

// Interrupt bits of mip/mie (numbers as in hart_irq.h's MipBit).
inline constexpr uint64_t kSsi = 1ull << 1, kMsi = 1ull << 3, kSti = 1ull << 5, kMti = 1ull << 7,
                          kSei = 1ull << 9, kMei = 1ull << 11;
inline constexpr uint64_t kAllInterrupts = kSsi | kMsi | kSti | kMti | kSei | kMei;
inline constexpr uint64_t kSInterrupts = kSsi | kSti | kSei;
// Exceptions medeleg can delegate (everything but ecall from M).
inline constexpr uint64_t kDelegableExceptions = 0xb3ff;

enum Cause : uint64_t {
  kInsnMisaligned = 0,
  kInsnAccessFault = 1,
  kIllegalInsn = 2,
  kBreakpoint = 3,
  kLoadMisaligned = 4,
  kLoadAccessFault = 5,
  kStoreMisaligned = 6,
  kStoreAccessFault = 7,
  kEcallU = 8,
  kEcallS = 9,
  kEcallM = 11,
  kInsnPageFault = 12,
  kLoadPageFault = 13,
  kStorePageFault = 15,
};
inline constexpr uint64_t kInterruptFlag = 1ull << 63;

// satp modes.
inline constexpr uint64_t kSatpBare = 0, kSatpSv39 = 8, kSatpSv48 = 9;

struct PmpState {
  static constexpr unsigned kEntries = 16;  // pmpcfg0/2, pmpaddr0..15; the rest read as zero
  std::array<uint8_t, kEntries> cfg{};
  std::array<uint64_t, kEntries> addr{};
};

// Sources the hart reads from the machine.
struct PrivEnv {
  unsigned hartid = 0;
  uint64_t (*read_time)(void* ctx) = nullptr;  // the CLINT's mtime
  void* time_ctx = nullptr;
};

class PrivState {
 public:
  Priv priv = Priv::kM;
  uint64_t mstatus = (2ull << 32) | (2ull << 34);
  uint64_t medeleg = 0, mideleg = 0;
  uint64_t mie = 0;
  uint64_t mip_soft = 0;  // the software-writable mip bits (SSIP, STIP, SEIP)
  uint64_t mtvec = 0, stvec = 0;
  uint64_t mepc = 0, sepc = 0, mcause = 0, scause = 0, mtval = 0, stval = 0;
  uint64_t mscratch = 0, sscratch = 0;
  uint32_t mcounteren = 0, scounteren = 0, mcountinhibit = 0;
  uint64_t satp = 0;
  uint64_t menvcfg = 0, senvcfg = 0;
  uint64_t mcycle_offset = 0;  // mcycle/minstret writes: value - instret
  PmpState pmp;

  static constexpr uint64_t kMisa = (2ull << 62) | (1u << 0) | (1u << 2) | (1u << 3) | (1u << 5) |
                                    (1u << 8) | (1u << 12) | (1u << 18) |
                                    (1u << 20);  // RV64 A C D F I M S U

  // Reads/writes CSR `csr` at the current privilege. nullopt: the access is illegal (unknown
  // CSR, too little privilege, a write to a read-only CSR, TVM). `hw_pending` is the mip bits
  // the devices drive; `instret` the retired-instruction count.
  std::optional<uint64_t> read_csr(uint16_t csr, uint64_t hw_pending, uint64_t instret,
                                   const PrivEnv& env) const;
  // Returns false when the write is illegal. `flush` is set when address translation or its
  // permission context changed (satp, mstatus MPRV/MPP/SUM/MXR, PMP).
  bool write_csr(uint16_t csr, uint64_t value, uint64_t& instret, bool& flush);
  // Whether a read (or write) of `csr` is permitted at all; used before the read of a
  // read-modify-write so that nothing happens when the write would be illegal.
  bool csr_accessible(uint16_t csr, bool write) const;

  uint64_t mip(uint64_t hw_pending) const { return mip_soft | hw_pending; }

  // The highest-priority interrupt to take now, as a cause number, if any.
  std::optional<unsigned> pending_interrupt(uint64_t hw_pending) const;

  // Privilege used for loads and stores (MPRV).
  Priv data_priv() const {
    if (priv == Priv::kM && (mstatus & mstatus_bits::kMprv)) {
      return static_cast<Priv>((mstatus & mstatus_bits::kMpp) >> mstatus_bits::kMppShift);
    }
    return priv;
  }
  bool fp_enabled() const { return (mstatus & mstatus_bits::kFs) != 0; }

  // Enters the trap handler: saves pc into xepc, sets cause/tval, updates the status stack and
  // returns the handler's address. Delegation follows medeleg/mideleg.
  uint64_t take_trap(uint64_t cause, uint64_t tval, uint64_t pc);
  // mret / sret: restore the stack and return the target pc.
  uint64_t mret();
  uint64_t sret();

  // PMP: whether an access of [addr, addr+len) by `p` is allowed.
  bool pmp_allows(uint64_t addr, uint64_t len, Access access, Priv p) const;
  // Whether the whole 4 KiB page at `page` gets one PMP decision (so it may be cached).
  bool pmp_page_uniform(uint64_t page, Access access, Priv p) const;

 private:
  // The active PMP entries decoded to [lo, hi) ranges, in priority order. Rebuilt when `pmp`
  // differs from the copy they were decoded from (tests and restores may write it directly).
  struct PmpRange {
    uint64_t lo, hi;
    uint8_t cfg;
  };
  struct PmpDecoded {
    PmpState from;
    std::array<PmpRange, PmpState::kEntries> ranges;
    unsigned count = 0;
    bool valid = false;
  };
  const PmpDecoded& pmp_decoded() const;
  mutable PmpDecoded pmp_decoded_;
};

}  // namespace tandem::riscv
