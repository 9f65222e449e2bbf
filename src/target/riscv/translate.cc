#include "target/riscv/translate.h"

#include <fmt/format.h>

#include <cstring>

#include "target/riscv/translate_internal.h"

namespace tandem::riscv {

using namespace translate_detail;  // NOLINT

namespace {

constexpr uint64_t kPageMask = ~uint64_t{4095};

// Fetches the instruction at pc. Returns false when (part of) it is not executable; *bad is
// the address that failed.
bool fetch(GuestMemory& mem, uint64_t pc, uint32_t* raw, uint64_t* bad) {
  const uint8_t* lo = mem.translate(pc, 2, Access::kExec);
  if (!lo) {
    *bad = pc;
    return false;
  }
  uint16_t half;
  std::memcpy(&half, lo, 2);
  *raw = half;
  if (insn_length(half) == 4) {
    const uint8_t* hi = mem.translate(pc + 2, 2, Access::kExec);
    if (!hi) {
      *bad = pc + 2;
      return false;
    }
    uint16_t upper;
    std::memcpy(&upper, hi, 2);
    *raw |= static_cast<uint32_t>(upper) << 16;
  }
  return true;
}

}  // namespace

void translate_block(const TranslateParams& params, GuestMemory& mem, tcg::Ir& ir,
                     TranslateResult* result) {
  ir.clear();
  *result = TranslateResult{};
  Ctx c{
      .ir = ir, .host = *params.host, .frm = params.frm, .flags = params.flags, .tb_pc = params.pc};
  uint64_t pc = params.pc;
  const uint64_t page = pc & kPageMask;
  for (unsigned n = 0;; ++n) {
    uint32_t raw = 0;
    uint64_t bad = 0;
    if (c.system() && (pc & ~kPageMask) == 4094) {
      const uint8_t* lo = mem.translate(pc, 2, Access::kExec);
      uint16_t half = 0;
      if (lo) std::memcpy(&half, lo, 2);
      if (lo && insn_length(half) == 4) {
        // It crosses into the next page: a TB of its own, which depends on both mappings.
        if (n > 0) {
          c.jump(0, pc);
          break;
        }
        result->straddles = true;
      }
    }
    if (!fetch(mem, pc, &raw, &bad)) {
      if (n == 0) {
        result->fetch_fault = true;
        result->fault_addr = bad;
        return;
      }
      // Let the next TB (starting there) report the fault precisely.
      c.jump(0, pc);
      break;
    }
    const DecodedInsn d = decode(raw);
    c.pc = pc;
    c.next_pc = pc + d.length;
    c.insn_index = n;
    c.d = &d;
    ir.insn_start(pc);
    if (params.want_listing) {
      result->listing += fmt::format("0x{:016x}:  {:08x}  {}\n", pc, d.raw, disassemble(d, pc));
    }
    ++result->insns;
    bool ok = d.op != Op::kIllegal && (translate_int(c) || translate_atomic(c) ||
                                       (c.fp_enabled() && translate_fp(c)) || translate_system(c));
    if (!ok) {
      // Drop whatever a partial translation emitted for this instruction.
      while (!ir.ops.empty() && ir.ops.back().opc != tcg::Opc::kInsnStart) ir.ops.pop_back();
      c.illegal();
    }
    pc = c.next_pc;
    if (c.end) break;
    if (n + 1 >= params.max_insns || (pc & kPageMask) != page) {
      c.jump(0, pc);
      break;
    }
  }
  result->end = pc;
}

}  // namespace tandem::riscv
