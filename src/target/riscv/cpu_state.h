// The architectural state of one RV64GC hart that user-level code sees. The interpreter and the
// translator's generated code both read and write this struct; generated code addresses fields
// by offsetof(), so keep it standard-layout. Privileged state (CSRs of M and S mode, satp, ...)
// lives apart, in the full-system machine, not here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace tandem::riscv {

// fcsr layout: fflags in bits 0..4, frm in bits 5..7.
enum FFlags : uint32_t { kNX = 1, kUF = 2, kOF = 4, kDZ = 8, kNV = 16 };
enum RoundingMode : uint32_t { kRNE = 0, kRTZ = 1, kRDN = 2, kRUP = 3, kRMM = 4, kDYN = 7 };

struct CpuState {
  uint64_t x[32] = {};  // x[0] is always 0: writers must not change it
  uint64_t pc = 0;
  uint64_t f[32] = {};  // raw bits; single-precision values are NaN-boxed (upper 32 bits all 1)
  uint32_t fflags = 0;  // accrued exception flags (5 bits)
  uint32_t frm = 0;     // dynamic rounding mode (3 bits)

  // LR/SC reservation.
  uint64_t reservation_addr = 0;
  uint64_t reservation_value = 0;
  bool reservation_valid = false;

  // User-mode address space: guest address a lives at host address guest_base + a for
  // a < guest_limit. Generated code loads these from here. In full-system mode guest_base
  // points at the hart's software TLB (accel/tcg/softmmu.h) instead.
  uint8_t* guest_base = nullptr;
  uint64_t guest_limit = 0;

  // Full-system mode: the hart's memory (riscv::SystemMemory) for the softmmu slow paths, and
  // their fault report (tcg::kMemFault*).
  void* sys = nullptr;
  uint32_t mem_fault = 0;

  // Full-system mode: runs a CSR instruction for generated code (system/hart.cc) and returns a
  // CsrStatus; the CSR's old value is left in csr_value. `hart` is the hart owning this state.
  uint64_t (*csr_helper)(CpuState* env, uint64_t operand, uint64_t insn) = nullptr;
  void* hart = nullptr;
  uint64_t csr_value = 0;

  // Counters readable through rdcycle/rdinstret/rdtime (user mode reads host time).
  uint64_t instret = 0;
};

static_assert(std::is_standard_layout_v<CpuState>);

// What CpuState::csr_helper did with a CSR instruction.
enum CsrStatus : uint64_t {
  kCsrDone = 0,   // done; the block goes on
  kCsrLeave = 1,  // done, but the hart must look at its state (flags, TLB, interrupts) next
  kCsrHart = 2,   // nothing done: leave the instruction to the hart (it traps, or counts)
};

// Why execution stopped and control came back to the caller (user-mode loop or machine).
enum class ExitKind {
  kEcall,               // pc points at the ecall
  kEbreak,              // pc points at the ebreak
  kIllegalInstruction,  // pc points at it; `info` holds the raw instruction bits
  kLoadFault,           // `info` holds the faulting guest address; pc at the access
  kStoreFault,
  kFetchFault,   // pc (== info) is not executable / not mapped
  kMisaligned,   // atomic access not naturally aligned; `info` = address
  kInterrupted,  // an asynchronous stop was requested (signal, timer, exit), or the
                 // instruction budget ran out; pc at the next instruction
  kFenceI,       // a fence.i completed (pc after it): translated code may be stale
  kColdCode,     // the translator met code at pc it has not seen often enough to translate
                 // yet (TcgOptions::translate_after): the caller interprets a block of it
};

struct ExitInfo {
  ExitKind kind;
  uint64_t info = 0;
};

}  // namespace tandem::riscv
