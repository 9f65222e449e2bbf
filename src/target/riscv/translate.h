// The RISC-V front end of the binary translator: guest instructions -> tcg IR, one translation
// block (TB) at a time. A TB is a run of instructions that ends at a branch or jump, an
// instruction that needs the dispatcher (ecall, ebreak, fence.i, frm writes, illegal ones), a
// page boundary or a size limit.
#pragma once

#include <cstdint>
#include <string>

#include "accel/tcg/host_features.h"
#include "accel/tcg/ir.h"
#include "target/riscv/guest_memory.h"

namespace tandem::riscv {

struct TranslateParams {
  uint64_t pc = 0;
  uint32_t frm = 0;  // the dynamic rounding mode the TB is specialised for (part of its key)
  unsigned max_insns = 128;
  const tcg::HostFeatures* host = nullptr;
  bool want_listing = false;  // fill TranslateResult::listing (-d in_asm)
};

struct TranslateResult {
  bool fetch_fault = false;  // the first instruction cannot be fetched
  uint64_t fault_addr = 0;
  uint64_t end = 0;  // guest address just past the last instruction
  unsigned insns = 0;
  std::string listing;
};

// Translates the TB at params.pc into `ir` (cleared first).
void translate_block(const TranslateParams& params, GuestMemory& mem, tcg::Ir& ir,
                     TranslateResult* result);

}  // namespace tandem::riscv
