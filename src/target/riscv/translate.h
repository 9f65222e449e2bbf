// The RISC-V front end of the binary translator: guest instructions -> tcg IR, one translation
// block (TB) at a time. A TB is a run of instructions that ends at a branch or jump, an
// instruction that needs the dispatcher (ecall, ebreak, fence.i, frm writes, illegal ones), a
// page boundary or a size limit.
//
// In full-system mode (params.flags has tb_flags::kSystem) a TB holds bytes of one page, except
// a TB of one instruction that crosses into the next page (TranslateResult::straddles): it stops
// before such an instruction, which starts a TB of its own. Privileged instructions and CSRs
// other than the FP ones leave the TB as illegal-instruction exits for the hart to execute.
#pragma once

#include <cstdint>
#include <string>

#include "accel/tcg/host_features.h"
#include "accel/tcg/ir.h"
#include "target/riscv/cpu_state.h"
#include "target/riscv/guest_memory.h"

namespace tandem::riscv {

struct TranslateParams {
  uint64_t pc = 0;
  uint32_t frm = 0;    // the dynamic rounding mode the TB is specialised for (part of its key)
  uint32_t flags = 0;  // full-system mode: tcg::tb_flags (part of the key too); 0 in user mode
  unsigned max_insns = 128;
  const tcg::HostFeatures* host = nullptr;
  bool want_listing = false;  // fill TranslateResult::listing (-d in_asm)
  // Full-system mode: CpuState::csr_helper, called for CSR instructions (nullptr: they all
  // leave the block for the hart).
  uint64_t (*csr_helper)(CpuState*, uint64_t, uint64_t) = nullptr;
};

struct TranslateResult {
  bool fetch_fault = false;  // the first instruction cannot be fetched
  bool straddles = false;    // full-system: the TB is one instruction crossing a page boundary
  uint64_t fault_addr = 0;
  uint64_t end = 0;  // guest address just past the last instruction
  unsigned insns = 0;
  std::string listing;
};

// Translates the TB at params.pc into `ir` (cleared first).
void translate_block(const TranslateParams& params, GuestMemory& mem, tcg::Ir& ir,
                     TranslateResult* result);

}  // namespace tandem::riscv
