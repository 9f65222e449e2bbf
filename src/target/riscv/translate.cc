#include "target/riscv/translate.h"

#include <fmt/format.h>

#include <cstring>
#include <optional>
#include <utility>
#include <vector>

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

// If-conversion of a conditional branch that skips at most kMaxSkipped register-only integer
// instructions on its page (`if (c) x ^= k;`, abs, clamping): they are translated in line,
// their results kept only where the branch is not taken, with a mask instead of a branch, and
// the block goes on after them. A data-dependent branch of this shape mispredicts about half
// the time on the host, costing more than the few ALU operations. The skipped instructions
// must not trap, touch memory, CSRs or FP state, or transfer control.
constexpr unsigned kMaxSkipped = 3;

bool register_only(const DecodedInsn& d) {
  if (d.op == Op::kIllegal || d.op == Op::kJalr || d.fregs != 0) return false;
  switch (d.format) {
    case Format::kR:
    case Format::kR1:
    case Format::kI:
    case Format::kShift:
    case Format::kU:
      return true;
    default:
      return false;
  }
}

std::optional<tcg::Cond> branch_cond(Op op) {
  switch (op) {
    case Op::kBeq:
      return tcg::Cond::kEq;
    case Op::kBne:
      return tcg::Cond::kNe;
    case Op::kBlt:
      return tcg::Cond::kLt;
    case Op::kBge:
      return tcg::Cond::kGe;
    case Op::kBltu:
      return tcg::Cond::kLtu;
    case Op::kBgeu:
      return tcg::Cond::kGeu;
    default:
      return std::nullopt;
  }
}

// The instructions between a branch at pc (decoded `br`) and its target, if the branch can be
// if-converted; empty otherwise.
std::vector<std::pair<uint64_t, DecodedInsn>> skipped_by(GuestMemory& mem, uint64_t pc,
                                                         const DecodedInsn& br) {
  std::vector<std::pair<uint64_t, DecodedInsn>> out;
  if (!branch_cond(br.op) || br.imm <= br.length || br.imm > 4 * kMaxSkipped) return out;
  const uint64_t target = pc + static_cast<uint64_t>(br.imm);
  if ((target & kPageMask) != (pc & kPageMask)) return out;
  for (uint64_t at = pc + br.length; at < target;) {
    uint32_t raw = 0;
    uint64_t bad = 0;
    if (out.size() == kMaxSkipped || !fetch(mem, at, &raw, &bad)) return {};
    const DecodedInsn d = decode(raw);
    if (!register_only(d)) return {};
    out.emplace_back(at, d);
    at += d.length;
    if (at > target) return {};
  }
  return out;
}

// Translates branch `br` (its insn_start already emitted, as instruction n) and the
// instructions it skips; n becomes the last one's index. False, with nothing emitted, when one
// of them does not translate (an instruction the translator lacks must still raise SIGILL
// where it is not skipped: the normal path does that).
bool if_convert(Ctx& c, const DecodedInsn& br,
                const std::vector<std::pair<uint64_t, DecodedInsn>>& skipped, bool listing,
                unsigned* n, TranslateResult* result) {
  Ir& ir = c.ir;
  const uint64_t pc = c.pc, next_pc = c.next_pc;
  const size_t mark = ir.ops.size();
  const size_t listing_mark = result->listing.size();
  const unsigned insns_mark = result->insns;
  // taken ? all ones : 0, then the skipped instructions under that mask.
  const Temp taken = ir.setcc(*branch_cond(br.op), Type::kI64, c.x(br.rs1), c.x(br.rs2));
  c.skip_mask = ir.unop(tcg::Opc::kNeg, Type::kI64, taken);
  unsigned index = *n;
  for (const auto& [at, sd] : skipped) {
    c.pc = at;
    c.next_pc = at + sd.length;
    c.insn_index = ++index;
    c.d = &sd;
    ir.insn_start(at);
    if (listing) {
      result->listing += fmt::format("0x{:016x}:  {:08x}  {}\n", at, sd.raw, disassemble(sd, at));
    }
    ++result->insns;
    if (!translate_int(c) || c.end) {
      c.skip_mask = tcg::kNoTemp;
      c.end = false;
      c.d = &br;
      c.pc = pc;
      c.next_pc = next_pc;
      c.insn_index = *n;
      ir.ops.resize(mark);
      result->listing.resize(listing_mark);
      result->insns = insns_mark;
      return false;
    }
  }
  // The block counts every instruction it holds as retired; skipped ones were not.
  const int32_t instret = offsetof(CpuState, instret);
  ir.st_global(Type::kI64, instret,
               ir.binop(tcg::Opc::kSub, Type::kI64, ir.ld_global(Type::kI64, instret),
                        ir.binop_imm(tcg::Opc::kAnd, Type::kI64, c.skip_mask,
                                     static_cast<int64_t>(skipped.size()))));
  c.skip_mask = tcg::kNoTemp;
  *n = index;
  return true;
}

}  // namespace

void translate_block(const TranslateParams& params, GuestMemory& mem, tcg::Ir& ir,
                     TranslateResult* result) {
  ir.clear();
  *result = TranslateResult{};
  Ctx c{.ir = ir,
        .host = *params.host,
        .frm = params.frm,
        .flags = params.flags,
        .tb_pc = params.pc,
        .csr_helper = params.csr_helper};
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
    const auto skipped = n + kMaxSkipped + 1 < params.max_insns
                             ? skipped_by(mem, pc, d)
                             : std::vector<std::pair<uint64_t, DecodedInsn>>{};
    if (!skipped.empty() && if_convert(c, d, skipped, params.want_listing, &n, result)) {
      pc = c.next_pc;
      if ((pc & kPageMask) != page) {
        c.jump(0, pc);
        break;
      }
      continue;
    }
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
