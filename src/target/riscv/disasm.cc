// Text for -d in_asm traces: objdump-like syntax with ABI register names.
#include <fmt/format.h>

#include "target/riscv/decode.h"

namespace tandem::riscv {
namespace {

const char* csr_name(uint16_t csr) {
  switch (csr) {
    case 0x001:
      return "fflags";
    case 0x002:
      return "frm";
    case 0x003:
      return "fcsr";
    case 0xc00:
      return "cycle";
    case 0xc01:
      return "time";
    case 0xc02:
      return "instret";
    default:
      return nullptr;
  }
}

std::string csr_text(uint16_t csr) {
  if (const char* name = csr_name(csr)) return name;
  return fmt::format("0x{:x}", csr);
}

const char* rm_suffix(uint8_t rm) {
  static constexpr const char* kNames[] = {"rne", "rtz", "rdn", "rup", "rmm", "", "", "dyn"};
  return kNames[rm & 7];
}

std::string fence_set(unsigned bits) {
  std::string s;
  if (bits & 8) s += 'i';
  if (bits & 4) s += 'o';
  if (bits & 2) s += 'r';
  if (bits & 1) s += 'w';
  return s.empty() ? "0" : s;
}

}  // namespace

const char* xreg_name(unsigned r) {
  static constexpr const char* kNames[32] = {"zero", "ra", "sp",  "gp",  "tp", "t0", "t1", "t2",
                                             "s0",   "s1", "a0",  "a1",  "a2", "a3", "a4", "a5",
                                             "a6",   "a7", "s2",  "s3",  "s4", "s5", "s6", "s7",
                                             "s8",   "s9", "s10", "s11", "t3", "t4", "t5", "t6"};
  return kNames[r & 31];
}

const char* freg_name(unsigned r) {
  static constexpr const char* kNames[32] = {
      "ft0", "ft1", "ft2", "ft3", "ft4",  "ft5",  "ft6", "ft7", "fs0",  "fs1", "fa0",
      "fa1", "fa2", "fa3", "fa4", "fa5",  "fa6",  "fa7", "fs2", "fs3",  "fs4", "fs5",
      "fs6", "fs7", "fs8", "fs9", "fs10", "fs11", "ft8", "ft9", "ft10", "ft11"};
  return kNames[r & 31];
}

std::string disassemble(const DecodedInsn& d, uint64_t pc) {
  if (d.op == Op::kIllegal) {
    return d.length == 2 ? fmt::format("{:<8} 0x{:04x}", "illegal", d.raw)
                         : fmt::format("{:<8} 0x{:08x}", "illegal", d.raw);
  }
  auto reg = [&](unsigned r, unsigned which) {
    return (d.fregs >> which) & 1 ? freg_name(r) : xreg_name(r);
  };
  const char* rd = reg(d.rd, 0);
  const char* rs1 = reg(d.rs1, 1);
  const char* rs2 = reg(d.rs2, 2);
  const char* rs3 = reg(d.rs3, 3);
  std::string mnemonic = op_name(d.op);
  if (d.format == Format::kAmo || d.format == Format::kLr) {
    if (d.aq) mnemonic += ".aq";
    if (d.rl) mnemonic += d.aq ? "rl" : ".rl";
  }
  std::string ops;
  switch (d.format) {
    case Format::kNone:
      break;
    case Format::kR:
      ops = fmt::format("{},{},{}", rd, rs1, rs2);
      break;
    case Format::kR1:
      ops = fmt::format("{},{}", rd, rs1);
      break;
    case Format::kR4:
      ops = fmt::format("{},{},{},{}", rd, rs1, rs2, rs3);
      break;
    case Format::kI:
      ops = d.op == Op::kJalr ? fmt::format("{},{}({})", rd, d.imm, rs1)
                              : fmt::format("{},{},{}", rd, rs1, d.imm);
      break;
    case Format::kShift:
      ops = fmt::format("{},{},0x{:x}", rd, rs1, d.imm);
      break;
    case Format::kLoad:
      ops = fmt::format("{},{}({})", rd, d.imm, rs1);
      break;
    case Format::kStore:
      ops = fmt::format("{},{}({})", rs2, d.imm, rs1);
      break;
    case Format::kBranch:
      ops = fmt::format("{},{},0x{:x}", rs1, rs2, pc + static_cast<uint64_t>(d.imm));
      break;
    case Format::kU:
      ops = fmt::format("{},0x{:x}", rd, (static_cast<uint64_t>(d.imm) >> 12) & 0xfffff);
      break;
    case Format::kJ:
      ops = fmt::format("{},0x{:x}", rd, pc + static_cast<uint64_t>(d.imm));
      break;
    case Format::kCsr:
      ops = fmt::format("{},{},{}", rd, csr_text(d.csr), rs1);
      break;
    case Format::kCsrI:
      ops = fmt::format("{},{},{}", rd, csr_text(d.csr), d.imm);
      break;
    case Format::kAmo:
      ops = fmt::format("{},{},({})", rd, rs2, rs1);
      break;
    case Format::kLr:
      ops = fmt::format("{},({})", rd, rs1);
      break;
    case Format::kFence:
      ops = fmt::format("{},{}", fence_set((d.imm >> 4) & 15), fence_set(d.imm & 15));
      break;
  }
  // Show a static rounding mode when it is not the default dynamic one, as objdump does.
  // Conversions that are always exact ignore their rounding mode; objdump hides it.
  const bool exact = d.op == Op::kFcvtDS || d.op == Op::kFcvtDW || d.op == Op::kFcvtDWu;
  if (d.uses_rm && d.rm != 7 && !exact) ops += fmt::format(",{}", rm_suffix(d.rm));
  if (ops.empty()) return mnemonic;
  return fmt::format("{:<8} {}", mnemonic, ops);
}

}  // namespace tandem::riscv
