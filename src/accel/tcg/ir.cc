#include "accel/tcg/ir.h"

#include <fmt/format.h>

namespace tandem::tcg {

namespace {

const char* const kOpNames[] = {
#define TANDEM_TCG_OP_NAME(name, str) str,
    TANDEM_TCG_OPS(TANDEM_TCG_OP_NAME)
#undef TANDEM_TCG_OP_NAME
};

const char* const kCondNames[] = {"eq", "ne", "lt", "ge", "le", "gt", "ltu", "geu", "leu", "gtu"};
const char* const kTypeNames[] = {"i32", "i64", "f32", "f64"};
const char* const kAmoNames[] = {"swap", "add", "xor", "and", "or", "min", "max", "minu", "maxu"};
const char* const kFCmpNames[] = {"eq", "lt", "le"};

}  // namespace

const char* opc_name(Opc o) {
  return kOpNames[static_cast<unsigned>(o)];
}

Cond invert(Cond c) {
  switch (c) {
    case Cond::kEq:
      return Cond::kNe;
    case Cond::kNe:
      return Cond::kEq;
    case Cond::kLt:
      return Cond::kGe;
    case Cond::kGe:
      return Cond::kLt;
    case Cond::kLe:
      return Cond::kGt;
    case Cond::kGt:
      return Cond::kLe;
    case Cond::kLtu:
      return Cond::kGeu;
    case Cond::kGeu:
      return Cond::kLtu;
    case Cond::kLeu:
      return Cond::kGtu;
    case Cond::kGtu:
      return Cond::kLeu;
  }
  return c;
}

Cond swap_operands(Cond c) {
  switch (c) {
    case Cond::kLt:
      return Cond::kGt;
    case Cond::kGt:
      return Cond::kLt;
    case Cond::kLe:
      return Cond::kGe;
    case Cond::kGe:
      return Cond::kLe;
    case Cond::kLtu:
      return Cond::kGtu;
    case Cond::kGtu:
      return Cond::kLtu;
    case Cond::kLeu:
      return Cond::kGeu;
    case Cond::kGeu:
      return Cond::kLeu;
    default:
      return c;
  }
}

bool eval_cond(Cond c, Type t, uint64_t a, uint64_t b) {
  if (t == Type::kI32) {
    uint32_t ua = static_cast<uint32_t>(a), ub = static_cast<uint32_t>(b);
    int32_t sa = static_cast<int32_t>(ua), sb = static_cast<int32_t>(ub);
    switch (c) {
      case Cond::kEq:
        return ua == ub;
      case Cond::kNe:
        return ua != ub;
      case Cond::kLt:
        return sa < sb;
      case Cond::kGe:
        return sa >= sb;
      case Cond::kLe:
        return sa <= sb;
      case Cond::kGt:
        return sa > sb;
      case Cond::kLtu:
        return ua < ub;
      case Cond::kGeu:
        return ua >= ub;
      case Cond::kLeu:
        return ua <= ub;
      case Cond::kGtu:
        return ua > ub;
    }
  }
  int64_t sa = static_cast<int64_t>(a), sb = static_cast<int64_t>(b);
  switch (c) {
    case Cond::kEq:
      return a == b;
    case Cond::kNe:
      return a != b;
    case Cond::kLt:
      return sa < sb;
    case Cond::kGe:
      return sa >= sb;
    case Cond::kLe:
      return sa <= sb;
    case Cond::kGt:
      return sa > sb;
    case Cond::kLtu:
      return a < b;
    case Cond::kGeu:
      return a >= b;
    case Cond::kLeu:
      return a <= b;
    case Cond::kGtu:
      return a > b;
  }
  return false;
}

Temp Ir::constant(Type t, uint64_t v) {
  if (t == Type::kI32 || t == Type::kF32) v &= 0xffffffffu;
  temps.push_back({t, true, v});
  return static_cast<Temp>(temps.size() - 1);
}

Temp Ir::call(const void* fn, uint8_t flags, Type ret, Temp a, Temp b, Temp c) {
  Temp d = kNoTemp;
  if (!(flags & kCallNoReturnValue)) d = new_temp(ret);
  emit({.opc = Opc::kCall,
        .type = ret,
        .aux = flags,
        .d = d,
        .a = a,
        .b = b,
        .c = c,
        .imm = static_cast<int64_t>(reinterpret_cast<uintptr_t>(fn))});
  return d;
}

bool op_is_pure(const Op& op) {
  switch (op.opc) {
    case Opc::kNop:
    case Opc::kInsnStart:
    case Opc::kStGlobal:
    case Opc::kLoad:  // can fault: keeps the guest-visible exception
    case Opc::kStore:
    case Opc::kAmo:
    case Opc::kLr:
    case Opc::kSc:
    case Opc::kCall:
    case Opc::kFence:
    case Opc::kLabel:
    case Opc::kBr:
    case Opc::kBrcond:
    case Opc::kGotoTb:
    case Opc::kExitIndirect:
    case Opc::kExit:
    // Float arithmetic accrues exception flags even when its result is unused.
    case Opc::kFAdd:
    case Opc::kFSub:
    case Opc::kFMul:
    case Opc::kFDiv:
    case Opc::kFSqrt:
    case Opc::kFMadd:
    case Opc::kFCmp:
    case Opc::kFCvtFF:
    case Opc::kFCvtIF:
    case Opc::kFCvtFI:
      return false;
    default:
      return true;
  }
}

std::string Ir::temp_name(Temp t) const {
  if (t == kNoTemp) return "-";
  const TempInfo& ti = temps[t];
  if (ti.is_const) {
    if (ti.type == Type::kI32) return fmt::format("${}", static_cast<int32_t>(ti.value));
    if (ti.type == Type::kI64) {
      int64_t s = static_cast<int64_t>(ti.value);
      if (s > -65536 && s < 65536) return fmt::format("${}", s);
      return fmt::format("$0x{:x}", ti.value);
    }
    return fmt::format("$0x{:x}", ti.value);
  }
  return fmt::format("t{}", t);
}

std::string Ir::dump() const {
  std::string out;
  for (const Op& op : ops) {
    if (op.opc == Opc::kNop) continue;
    if (op.opc == Opc::kInsnStart) {
      out += fmt::format(" ---- {:016x}\n", static_cast<uint64_t>(op.imm));
      continue;
    }
    if (op.opc == Opc::kLabel) {
      out += fmt::format(" L{}:\n", op.imm);
      continue;
    }
    std::string line = fmt::format(" {}", opc_name(op.opc));
    line += fmt::format(".{}", kTypeNames[static_cast<unsigned>(op.type)]);
    std::vector<std::string> args;
    if (op.d != kNoTemp) args.push_back(temp_name(op.d));
    switch (op.opc) {
      case Opc::kLdGlobal:
        args.push_back(fmt::format("env+{}", op.imm));
        break;
      case Opc::kStGlobal:
        args.push_back(fmt::format("env+{}", op.imm));
        args.push_back(temp_name(op.a));
        break;
      case Opc::kSetcc:
      case Opc::kBrcond:
        args.push_back(kCondNames[op.aux]);
        args.push_back(temp_name(op.a));
        args.push_back(temp_name(op.b));
        if (op.opc == Opc::kBrcond) args.push_back(fmt::format("L{}", op.imm));
        break;
      case Opc::kLoad:
        args.push_back(
            fmt::format("{}{}", (op.aux & kMemSigned) ? "s" : "u", 8 * memop_size(op.aux)));
        args.push_back(fmt::format("[{}{:+}]", temp_name(op.a), op.imm));
        break;
      case Opc::kStore:
        args.push_back(fmt::format("{}", 8 * memop_size(op.aux)));
        args.push_back(fmt::format("[{}{:+}]", temp_name(op.a), op.imm));
        args.push_back(temp_name(op.b));
        break;
      case Opc::kAmo:
        args.push_back(fmt::format("{}{}", kAmoNames[op.aux2], 8 * memop_size(op.aux)));
        args.push_back(fmt::format("[{}]", temp_name(op.a)));
        args.push_back(temp_name(op.b));
        break;
      case Opc::kCall:
        args.push_back(fmt::format("fn@0x{:x} flags={}", static_cast<uint64_t>(op.imm), op.aux));
        for (Temp t : {op.a, op.b, op.c})
          if (t != kNoTemp) args.push_back(temp_name(t));
        break;
      case Opc::kBr:
        args.push_back(fmt::format("L{}", op.imm));
        break;
      case Opc::kShlAdd:
        args.push_back(temp_name(op.a));
        args.push_back(fmt::format("{}<<{}", temp_name(op.b), op.aux));
        break;
      case Opc::kGotoTb:
        args.push_back(fmt::format("slot{}", op.aux));
        args.push_back(fmt::format("0x{:x}", static_cast<uint64_t>(op.imm)));
        break;
      case Opc::kExit:
        args.push_back(fmt::format("code={}", op.aux));
        args.push_back(fmt::format("pc=0x{:x}", static_cast<uint64_t>(op.imm)));
        if (op.a != kNoTemp) args.push_back(temp_name(op.a));
        break;
      case Opc::kFCmp:
        args.push_back(kFCmpNames[op.aux]);
        args.push_back(temp_name(op.a));
        args.push_back(temp_name(op.b));
        break;
      case Opc::kFMadd:
      case Opc::kFCvtIF:
      case Opc::kFCvtFI:
        args.push_back(fmt::format("k{}", op.opc == Opc::kFMadd ? op.aux : op.aux2));
        [[fallthrough]];
      default:
        for (Temp t : {op.a, op.b, op.c})
          if (t != kNoTemp) args.push_back(temp_name(t));
        break;
    }
    for (size_t i = 0; i < args.size(); ++i) line += (i ? ", " : " ") + args[i];
    if (op.sync >= 0) {
      line += "  sync{";
      for (const SyncEntry& s : syncs[op.sync])
        line += fmt::format(" env+{}={}", s.offset, temp_name(s.value));
      line += " }";
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace tandem::tcg
