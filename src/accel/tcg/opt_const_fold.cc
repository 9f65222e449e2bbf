// Constant propagation and folding: ops whose inputs are all constants become constants;
// algebraic identities (x+0, x*1, x&0, ...) become copies or constants; chains of
// add-immediate are reassociated (lui/addi/address arithmetic); conditional branches on
// constants become unconditional or disappear.
#include "accel/tcg/ir_eval.h"
#include "accel/tcg/opt.h"

namespace tandem::tcg {

namespace {

bool is_int(Type t) {
  return t == Type::kI32 || t == Type::kI64;
}

}  // namespace

namespace {

// What is known of a 64-bit value's upper bits.
struct ExtBits {
  bool sext = false;  // it equals the sign extension of its low 32 bits
  bool u31 = false;   // it is below 2^31 (so both its sign and zero extension)
};

ExtBits const_bits(uint64_t v) {
  return {static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(v))) == v,
          v < 0x80000000u};
}

ExtBits result_bits(const Ir& ir, const Op& op, const std::vector<ExtBits>& bits) {
  auto in = [&](Temp t) { return ir.is_const(t) ? const_bits(ir.const_value(t)) : bits[t]; };
  auto shift_by = [&](int64_t lo) {
    return ir.is_const(op.b) && static_cast<int64_t>(ir.const_value(op.b)) >= lo &&
           ir.const_value(op.b) < (op.type == Type::kI64 ? 64u : 32u);
  };
  const bool i32 = op.type == Type::kI32;
  ExtBits r;
  switch (op.opc) {
    case Opc::kMov:
      return in(op.a);
    case Opc::kLoad:
    case Opc::kAmo:
    case Opc::kLr:
      if (is_float(op.type)) return r;
      if ((op.aux & 3) < 2) {  // 8/16-bit: extended either way
        r.sext = true;
        r.u31 = !(op.aux & kMemSigned) && op.opc == Opc::kLoad;
      } else if ((op.aux & 3) == 2) {
        r.sext = (op.aux & kMemSigned) || op.opc != Opc::kLoad;  // amo/lr .w sign-extend
      }
      return r;
    case Opc::kSext8:
    case Opc::kSext16:
    case Opc::kSext32:
      r.sext = true;
      return r;
    case Opc::kZext8:
    case Opc::kZext16:
    case Opc::kSetcc:
    case Opc::kFCmp:
    case Opc::kClz:
    case Opc::kCtz:
    case Opc::kPopcnt:
    case Opc::kSc:
      return {true, true};
    case Opc::kZext32:
      return in(op.a).u31 ? ExtBits{true, true} : r;
    case Opc::kFCvtFI:
      r.sext = op.aux2 <= 1;  // the W conversions sign-extend their 32-bit result
      return r;
    case Opc::kAnd:
      r.u31 = in(op.a).u31 || in(op.b).u31;
      r.sext = r.u31 || (!i32 && in(op.a).sext && in(op.b).sext);
      return r;
    case Opc::kOr:
    case Opc::kXor:
      r.u31 = in(op.a).u31 && in(op.b).u31;
      r.sext = r.u31 || (!i32 && in(op.a).sext && in(op.b).sext);
      return r;
    case Opc::kShr:
      r.u31 = shift_by(i32 ? 1 : 33);
      r.sext = r.u31;
      return r;
    case Opc::kSar:
      r.sext = !i32 && shift_by(32);
      return r;
    default:
      return r;
  }
}

// sext32/zext32 of a value whose upper bits already are what the extension makes them become
// copies (e.g. `sext.w` after an xor of sign-extended words, `addiw rd, rs, 0` after `lw`).
void fold_redundant_extensions(Ir& ir, const std::vector<uint32_t>& defs) {
  // Per-thread tables, reused from block to block (count_defs in opt.h).
  thread_local std::vector<ExtBits> bits;
  bits.assign(ir.temps.size(), ExtBits{});
  // Guest registers written in this block (straight-line code since the last label): what
  // their value is known to be (pinned registers are written through, not forwarded).
  thread_local std::vector<std::pair<int64_t, ExtBits>> globals;
  globals.clear();
  auto forget = [&](int64_t off) {
    std::erase_if(globals, [off](const auto& g) { return g.first == off; });
  };
  for (Op& op : ir.ops) {
    if (op.opc == Opc::kLabel || op.opc == Opc::kCall) globals.clear();
    if (op.opc == Opc::kStGlobal) {
      forget(op.imm);
      if (op.type == Type::kI64) {
        globals.push_back(
            {op.imm, ir.is_const(op.a) ? const_bits(ir.const_value(op.a)) : bits[op.a]});
      }
      continue;
    }
    if (op.opc == Opc::kLdGlobal && op.type == Type::kI64 && defs[op.d] == 1) {
      for (const auto& g : globals)
        if (g.first == op.imm) bits[op.d] = g.second;
      continue;
    }
    if (op.d == kNoTemp || defs[op.d] != 1 || is_float(ir.temps[op.d].type)) continue;
    if ((op.opc == Opc::kSext32 || op.opc == Opc::kZext32) && op.type == Type::kI64 &&
        !ir.is_const(op.a) && defs[op.a] == 1) {
      const ExtBits a = bits[op.a];
      if (ir.temps[op.a].type == Type::kI64 ? (op.opc == Opc::kSext32 ? a.sext : a.u31) : a.u31) {
        op = Op{.opc = Opc::kMov, .type = Type::kI64, .d = op.d, .a = op.a};
      }
    }
    bits[op.d] = result_bits(ir, op, bits);
  }
}

}  // namespace

void opt_const_fold(Ir& ir) {
  // Per-thread tables, reused from block to block (count_defs in opt.h).
  thread_local std::vector<uint32_t> defs;
  count_defs(ir, defs);
  // known[t]: the constant temp t is known to equal (kNoTemp when unknown).
  thread_local std::vector<Temp> known;
  known.assign(ir.temps.size(), kNoTemp);
  // For single-def temps defined as `x + const` (kI64): the x and the constant.
  thread_local std::vector<Temp> add_base;
  add_base.assign(ir.temps.size(), kNoTemp);
  thread_local std::vector<int64_t> add_off;
  add_off.assign(ir.temps.size(), 0);
  // For single-def kI32 temps defined as `x op 0` with a 64-bit x (addiw rd, rs, 0 = sext.w):
  // x, whose low 32 bits they are.
  thread_local std::vector<Temp> low32_of;
  low32_of.assign(ir.temps.size(), kNoTemp);

  auto make_const = [&](Op& op, uint64_t v) {
    Type t = ir.temps[op.d].type;
    Temp c = ir.constant(t, v);
    known.push_back(kNoTemp);
    add_base.push_back(kNoTemp);
    add_off.push_back(0);
    low32_of.push_back(kNoTemp);
    known[op.d] = defs[op.d] == 1 ? c : kNoTemp;
    op = Op{.opc = Opc::kMov, .type = t, .d = op.d, .a = c};
  };
  auto make_copy = [&](Op& op, Temp src) {
    op = Op{.opc = Opc::kMov, .type = ir.temps[op.d].type, .d = op.d, .a = src};
  };

  for (Op& op : ir.ops) {
    // Propagate known constants into the inputs.
    for_each_input(ir, op, [&](Temp& t) {
      if (known[t] != kNoTemp) t = known[t];
    });
    if (op.opc == Opc::kMov) {
      if (ir.is_const(op.a) && defs[op.d] == 1) known[op.d] = op.a;
      continue;
    }
    if (op.opc == Opc::kBrcond) {
      if (ir.is_const(op.a) && ir.is_const(op.b)) {
        bool taken = eval_cond(static_cast<Cond>(op.aux), op.type, ir.const_value(op.a),
                               ir.const_value(op.b));
        op = taken ? Op{.opc = Opc::kBr, .imm = op.imm} : Op{};
      }
      continue;
    }
    // sext32/zext32 read only the low 32 bits: look through `x op 0` (kI32).
    if ((op.opc == Opc::kSext32 || op.opc == Opc::kZext32) && !ir.is_const(op.a) &&
        low32_of[op.a] != kNoTemp) {
      op.a = low32_of[op.a];
    }
    if (op.d == kNoTemp || !op_is_pure(op) || !is_int(op.type)) continue;
    bool ca = ir.is_const(op.a);
    bool cb = op.b == kNoTemp || ir.is_const(op.b);
    if (op.c != kNoTemp) continue;
    uint64_t va = ca ? ir.const_value(op.a) : 0,
             vb = (op.b != kNoTemp && cb) ? ir.const_value(op.b) : 0;
    if (ca && cb) {
      uint64_t r;
      if (eval_int_op(op.opc, op.type, op.aux, va, vb, &r)) {
        if (ir.temps[op.d].type == Type::kI32) r &= 0xffffffffu;
        make_const(op, r);
      }
      continue;
    }
    bool is64 = op.type == Type::kI64;
    uint64_t ones = is64 ? ~0ull : 0xffffffffull;
    // Identities with a constant second operand (commutative ops get their constant moved to
    // the right first).
    switch (op.opc) {
      case Opc::kAdd:
      case Opc::kMul:
      case Opc::kAnd:
      case Opc::kOr:
      case Opc::kXor:
      case Opc::kMin:
      case Opc::kMax:
      case Opc::kMinu:
      case Opc::kMaxu:
        if (ca && !cb) {
          std::swap(op.a, op.b);
          std::swap(ca, cb);
          std::swap(va, vb);
        }
        break;
      default:
        break;
    }
    if (!cb || op.b == kNoTemp) continue;
    // A 32-bit op's copy of a 64-bit temp would keep the upper bits: only fold those to copies
    // when the source is 32-bit too.
    bool copy_ok = is64 || ir.temps[op.a].type == Type::kI32;
    if (!copy_ok && vb == 0 && defs[op.d] == 1 && defs[op.a] == 1 &&
        (op.opc == Opc::kAdd || op.opc == Opc::kSub || op.opc == Opc::kOr || op.opc == Opc::kXor ||
         op.opc == Opc::kShl || op.opc == Opc::kShr || op.opc == Opc::kSar)) {
      low32_of[op.d] = op.a;
    }
    switch (op.opc) {
      case Opc::kAdd:
        if (vb == 0 && copy_ok) {
          make_copy(op, op.a);
        } else if (is64 && defs[op.d] == 1 && defs[op.a] == 1) {
          Temp base = op.a;
          int64_t off = static_cast<int64_t>(vb);
          if (add_base[base] != kNoTemp) {
            off += add_off[base];
            base = add_base[base];
            op.a = base;
            op.b = ir.constant(Type::kI64, static_cast<uint64_t>(off));
            known.push_back(kNoTemp);
            add_base.push_back(kNoTemp);
            add_off.push_back(0);
            low32_of.push_back(kNoTemp);
          }
          add_base[op.d] = base;
          add_off[op.d] = off;
        }
        break;
      case Opc::kSub:
        if (vb == 0 && copy_ok) {
          make_copy(op, op.a);
        } else if (is64) {
          // x - c  ==  x + (-c): lets the add rules (and lea) apply.
          op.opc = Opc::kAdd;
          op.b = ir.constant(Type::kI64, -vb);
          known.push_back(kNoTemp);
          add_base.push_back(kNoTemp);
          add_off.push_back(0);
          low32_of.push_back(kNoTemp);
          if (defs[op.d] == 1 && defs[op.a] == 1) {
            add_base[op.d] = op.a;
            add_off[op.d] = -static_cast<int64_t>(vb);
          }
        }
        break;
      case Opc::kOr:
      case Opc::kXor:
      case Opc::kShl:
      case Opc::kShr:
      case Opc::kSar:
      case Opc::kRotl:
      case Opc::kRotr:
        if (op.opc == Opc::kOr || op.opc == Opc::kXor ? vb == 0 : (vb & (is64 ? 63 : 31)) == 0) {
          if (copy_ok) make_copy(op, op.a);
        } else if (op.opc == Opc::kOr && (vb & ones) == ones) {
          make_const(op, ones);
        }
        break;
      case Opc::kAnd:
        if ((vb & ones) == 0) {
          make_const(op, 0);
        } else if ((vb & ones) == ones && copy_ok) {
          make_copy(op, op.a);
        }
        break;
      case Opc::kMul:
        if ((vb & ones) == 0) {
          make_const(op, 0);
        } else if ((vb & ones) == 1 && copy_ok) {
          make_copy(op, op.a);
        }
        break;
      default:
        break;
    }
  }
  count_defs(ir, defs);
  fold_redundant_extensions(ir, defs);
}

}  // namespace tandem::tcg
