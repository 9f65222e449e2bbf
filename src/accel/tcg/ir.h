// The translator's intermediate representation: a linear list of typed micro-ops on temporaries.
//
// A translation block (TB) is translated into one Ir: the front end (target/riscv/translate*)
// appends ops through the emit helpers below, the passes in opt_*.cc rewrite the list, and the
// x86-64 back end turns it into host code. Guest registers are not special temporaries: they
// live in CpuState and are read and written by kLdGlobal/kStGlobal at fixed offsets; the
// globals pass (opt_globals.cc) keeps them in temporaries across the block and writes them back
// only where the block can be left.
//
// Conventions:
//  - Every op has a type (kI32/kI64/kF32/kF64). kI32 ops read the low 32 bits of their operands
//    and leave the upper 32 bits of their result zero.
//  - Constants are temporaries with is_const set; they are never written.
//  - Control flow inside a TB (kBrcond/kBr to a kLabel) is forward-only. A temporary defined
//    before a label and used after it must be defined on every path (the front end guarantees
//    this; the back end keeps such temporaries in memory across labels).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tandem::tcg {

enum class Type : uint8_t { kI32, kI64, kF32, kF64 };

inline bool is_float(Type t) {
  return t == Type::kF32 || t == Type::kF64;
}
inline unsigned type_bits(Type t) {
  return (t == Type::kI32 || t == Type::kF32) ? 32 : 64;
}

using Temp = uint32_t;
inline constexpr Temp kNoTemp = ~0u;

// Comparison conditions for kSetcc / kBrcond (integer).
enum class Cond : uint8_t { kEq, kNe, kLt, kGe, kLe, kGt, kLtu, kGeu, kLeu, kGtu };
Cond invert(Cond c);
Cond swap_operands(Cond c);  // a c b  ==  b swap(c) a
bool eval_cond(Cond c, Type t, uint64_t a, uint64_t b);

// How a TB is left; the dispatcher receives this code from the generated code.
enum class ExitCode : uint32_t {
  kChain = 0,      // goto_tb slot not yet patched: aux = address of the patchable jump
  kLookup = 1,     // indirect jump missed the jump cache; env->pc holds the target
  kContinue = 2,   // state changed in a way that needs the dispatcher (frm write, fence.i)
  kInterrupt = 3,  // an exit was requested (Engine::request_exit)
  kSample = 4,     // sampling TB executions (BackendContext::sample); env->pc = the TB's pc
  kGuest = 16,     // + riscv::ExitKind; aux = ExitInfo::info
};

#define TANDEM_TCG_OPS(X)                                                                        \
  X(kNop, "nop")                                                                                 \
  X(kInsnStart, "insn_start") /* imm = guest pc of the instruction that follows */               \
  X(kMov, "mov")                                                                                 \
  X(kLdGlobal, "ld_global") /* d = env[imm] */                                                   \
  X(kStGlobal, "st_global") /* env[imm] = a */                                                   \
  X(kAdd, "add")                                                                                 \
  X(kSub, "sub")                                                                                 \
  X(kMul, "mul")                                                                                 \
  X(kAnd, "and")                                                                                 \
  X(kOr, "or")                                                                                   \
  X(kXor, "xor")                                                                                 \
  X(kAndn, "andn") /* a & ~b */                                                                  \
  X(kOrn, "orn")                                                                                 \
  X(kXnor, "xnor")                                                                               \
  X(kShl, "shl") /* shift count taken modulo the width */                                        \
  X(kShr, "shr")                                                                                 \
  X(kSar, "sar")                                                                                 \
  X(kRotl, "rotl")                                                                               \
  X(kRotr, "rotr")                                                                               \
  X(kNeg, "neg")                                                                                 \
  X(kNot, "not")                                                                                 \
  X(kMulh, "mulh")     /* high half of signed x signed */                                        \
  X(kMulhu, "mulhu")   /* unsigned x unsigned */                                                 \
  X(kMulhsu, "mulhsu") /* signed a x unsigned b */                                               \
  X(kDiv, "div")       /* RISC-V semantics: x/0 = -1, MIN/-1 = MIN */                            \
  X(kDivu, "divu")     /* x/0 = all ones */                                                      \
  X(kRem, "rem")       /* x%0 = x, MIN%-1 = 0 */                                                 \
  X(kRemu, "remu")     /* x%0 = x */                                                             \
  X(kMin, "min")                                                                                 \
  X(kMax, "max")                                                                                 \
  X(kMinu, "minu")                                                                               \
  X(kMaxu, "maxu")                                                                               \
  X(kShlAdd, "shladd") /* kI64: d = a + (b << aux), aux 1..3 (opt_fuse; one x86 lea) */          \
  X(kSetcc, "setcc")   /* d = (a cond b) ? 1 : 0; cond in aux, operand width = type */           \
  X(kSext8, "sext8")   /* kI64: sign-extend low bits of a */                                     \
  X(kSext16, "sext16")                                                                           \
  X(kSext32, "sext32")                                                                           \
  X(kZext8, "zext8")                                                                             \
  X(kZext16, "zext16")                                                                           \
  X(kZext32, "zext32")                                                                           \
  X(kClz, "clz") /* of width type; clz(0) = width */                                             \
  X(kCtz, "ctz")                                                                                 \
  X(kPopcnt, "popcnt")                                                                           \
  X(kBswap, "bswap")                                                                             \
  X(kOrcB, "orc_b")                                                                              \
  X(kLoad, "ld")     /* d = guest[a + imm]; aux = MemOp */                                       \
  X(kStore, "st")    /* guest[a + imm] = b; aux = MemOp */                                       \
  X(kAmo, "amo")     /* d = old guest[a]; guest[a] = f(old, b); aux = MemOp, aux2 = AmoKind */   \
  X(kLr, "lr")       /* d = guest[a] (aux = MemOp, signed), and reserve it in CpuState */        \
  X(kSc, "sc")       /* d = 0 and guest[a] = b if still reserved, else d = 1 */                  \
  X(kCall, "call")   /* d = helper(imm)(env?, a, b, c); aux = CallFlags */                       \
  X(kFence, "fence") /* host barrier: earlier stores visible before later loads */               \
  X(kLabel, "label") /* imm = label id */                                                        \
  X(kBr, "br")                                                                                   \
  X(kBrcond, "brcond")              /* if (a cond b) goto label imm */                           \
  X(kGotoTb, "goto_tb")             /* jump to guest pc imm through chain slot aux */            \
  X(kExitIndirect, "exit_indirect") /* jump to guest pc a through the jump cache */              \
  X(kExit, "exit") /* return to the dispatcher: aux = ExitCode, imm = pc, a = info temp */       \
  X(kFAdd, "fadd")                                                                               \
  X(kFSub, "fsub")                                                                               \
  X(kFMul, "fmul")                                                                               \
  X(kFDiv, "fdiv")                                                                               \
  X(kFSqrt, "fsqrt")                                                                             \
  X(kFMadd, "fmadd")     /* a*b + c, one rounding; aux = 0 madd 1 msub 2 nmsub 3 nmadd */        \
  X(kFCmp, "fcmp")       /* d(kI64) = a cmp b; aux = FCmp; operand type = aux2 (0 f32, 1 f64) */ \
  X(kFCvtFF, "fcvt_ff")  /* d(type) = convert float a (other width) */                           \
  X(kFCvtIF, "fcvt_if")  /* d(float type) = (aux2: 0 i32, 1 u32, 2 i64, 3 u64) a */              \
  X(kFCvtFI, "fcvt_fi")  /* d(kI64) = trunc-toward-zero int of float a; aux2 int kind,           \
                            aux = 1 when a is kF64 */                                            \
  X(kBitcast, "bitcast") /* d = a reinterpreted (same width, int <-> float) */                   \
  X(kBoxF32, "box_f32")  /* d(kI64) = 0xffffffff00000000 | bits(a:kF32) */                       \
  X(kUnboxF32, "unbox_f32") /* d(kF32) = a(kI64) if NaN-boxed else canonical NaN */

enum class Opc : uint8_t {
#define TANDEM_TCG_OP_ENUM(name, str) name,
  TANDEM_TCG_OPS(TANDEM_TCG_OP_ENUM)
#undef TANDEM_TCG_OP_ENUM
      kCount
};
const char* opc_name(Opc o);

// Memory access descriptor (kLoad/kStore/kAmo aux): log2 size in bits 0..1, sign bit 2.
enum MemOp : uint8_t { kMemU8 = 0, kMemU16 = 1, kMemU32 = 2, kMemU64 = 3, kMemSigned = 4 };
inline unsigned memop_size(uint8_t m) {
  return 1u << (m & 3);
}

enum class AmoKind : uint8_t { kSwap, kAdd, kXor, kAnd, kOr, kMin, kMax, kMinu, kMaxu };

enum class FCmp : uint8_t { kEq, kLt, kLe };

// Helper-call properties (kCall aux).
enum CallFlags : uint8_t {
  kCallPassEnv = 1,    // the helper's first argument is the CpuState*
  kCallReadsEnv = 2,   // it reads guest registers from CpuState: they must be written back
  kCallWritesEnv = 4,  // it writes guest registers: cached copies must be reloaded
  kCallNoReturnValue = 8,
};

struct Op {
  Opc opc = Opc::kNop;
  Type type = Type::kI64;
  uint8_t aux = 0;
  uint8_t aux2 = 0;
  Temp d = kNoTemp;
  Temp a = kNoTemp, b = kNoTemp, c = kNoTemp;
  int64_t imm = 0;
  // For ops that can leave the TB early (loads/stores/amo faults): index into Ir::syncs of the
  // guest registers that must be written back first, or -1 when CpuState is already current.
  int32_t sync = -1;
};

struct TempInfo {
  Type type;
  bool is_const = false;
  uint64_t value = 0;  // constants: the bits (f32 in the low 32 bits)
};

// A pending write-back of a guest register held in a temporary (attached to ops that can exit).
struct SyncEntry {
  int32_t offset;
  Type type;  // how the value is stored (kF32: NaN-boxed into 64 bits)
  Temp value;
};

class Ir {
 public:
  std::vector<Op> ops;
  std::vector<TempInfo> temps;
  std::vector<std::vector<SyncEntry>> syncs;
  uint32_t num_labels = 0;

  void clear() {
    ops.clear();
    temps.clear();
    syncs.clear();
    num_labels = 0;
  }

  Temp new_temp(Type t) {
    temps.push_back({t, false, 0});
    return static_cast<Temp>(temps.size() - 1);
  }
  Temp constant(Type t, uint64_t v);
  bool is_const(Temp t) const { return t != kNoTemp && temps[t].is_const; }
  uint64_t const_value(Temp t) const { return temps[t].value; }
  uint32_t new_label() { return num_labels++; }

  // --- emitters -------------------------------------------------------------------------
  Op& emit(const Op& op) {
    ops.push_back(op);
    return ops.back();
  }
  void insn_start(uint64_t pc) { emit({.opc = Opc::kInsnStart, .imm = static_cast<int64_t>(pc)}); }
  Temp ld_global(Type t, int32_t offset) {
    Temp d = new_temp(t);
    emit({.opc = Opc::kLdGlobal, .type = t, .d = d, .imm = offset});
    return d;
  }
  void st_global(Type t, int32_t offset, Temp v) {
    emit({.opc = Opc::kStGlobal, .type = t, .a = v, .imm = offset});
  }
  Temp mov(Type t, Temp a) {
    Temp d = new_temp(t);
    emit({.opc = Opc::kMov, .type = t, .d = d, .a = a});
    return d;
  }
  Temp unop(Opc o, Type t, Temp a) {
    Temp d = new_temp(t);
    emit({.opc = o, .type = t, .d = d, .a = a});
    return d;
  }
  Temp binop(Opc o, Type t, Temp a, Temp b) {
    Temp d = new_temp(t);
    emit({.opc = o, .type = t, .d = d, .a = a, .b = b});
    return d;
  }
  Temp binop_imm(Opc o, Type t, Temp a, int64_t imm) {
    return binop(o, t, a, constant(t, static_cast<uint64_t>(imm)));
  }
  Temp setcc(Cond c, Type t, Temp a, Temp b) {
    Temp d = new_temp(Type::kI64);
    emit({.opc = Opc::kSetcc, .type = t, .aux = static_cast<uint8_t>(c), .d = d, .a = a, .b = b});
    return d;
  }
  Temp load(uint8_t memop, Temp addr, int64_t offset) {
    Temp d = new_temp(Type::kI64);
    emit({.opc = Opc::kLoad, .type = Type::kI64, .aux = memop, .d = d, .a = addr, .imm = offset});
    return d;
  }
  // Loads straight into a float temporary (fld/flw): memop size must match the type.
  Temp load_float(Type t, Temp addr, int64_t offset) {
    Temp d = new_temp(t);
    uint8_t m = t == Type::kF32 ? kMemU32 : kMemU64;
    emit({.opc = Opc::kLoad, .type = t, .aux = m, .d = d, .a = addr, .imm = offset});
    return d;
  }
  void store(uint8_t memop, Temp addr, int64_t offset, Temp v) {
    Type t = temps[v].type;
    emit({.opc = Opc::kStore, .type = t, .aux = memop, .a = addr, .b = v, .imm = offset});
  }
  Temp amo(AmoKind k, uint8_t memop, Temp addr, Temp v) {
    Temp d = new_temp(Type::kI64);
    emit({.opc = Opc::kAmo,
          .type = Type::kI64,
          .aux = memop,
          .aux2 = static_cast<uint8_t>(k),
          .d = d,
          .a = addr,
          .b = v});
    return d;
  }
  // Calls fn(env?, a, b, c): integer/pointer arguments and result are 64-bit; float temporaries
  // pass their raw bits. Returns the result temp (kNoTemp when ret is false).
  Temp call(const void* fn, uint8_t flags, Type ret, Temp a = kNoTemp, Temp b = kNoTemp,
            Temp c = kNoTemp);
  void label(uint32_t id) { emit({.opc = Opc::kLabel, .imm = id}); }
  void br(uint32_t id) { emit({.opc = Opc::kBr, .imm = id}); }
  void brcond(Cond c, Type t, Temp a, Temp b, uint32_t id) {
    emit({.opc = Opc::kBrcond,
          .type = t,
          .aux = static_cast<uint8_t>(c),
          .a = a,
          .b = b,
          .imm = id});
  }
  void goto_tb(unsigned slot, uint64_t pc) {
    emit({.opc = Opc::kGotoTb, .aux = static_cast<uint8_t>(slot), .imm = static_cast<int64_t>(pc)});
  }
  void exit_indirect(Temp target) { emit({.opc = Opc::kExitIndirect, .a = target}); }
  void exit(ExitCode code, uint64_t pc, Temp info = kNoTemp) {
    // aux is 8 bits: guest exit kinds are encoded as kGuest + kind (< 256).
    emit({.opc = Opc::kExit,
          .aux = static_cast<uint8_t>(code),
          .a = info,
          .imm = static_cast<int64_t>(pc)});
  }

  // Printable listing (the -d op / op_opt format).
  std::string dump() const;
  std::string temp_name(Temp t) const;
};

// Number of value operands an op reads among a, b, c; and whether it writes d.
inline bool op_has_dest(const Op& op) {
  return op.d != kNoTemp;
}

// True for ops whose only effect is their result (removable when the result is dead).
bool op_is_pure(const Op& op);

// Calls f(Temp&) for every temp an op reads, including its sync list.
template <typename F>
void for_each_input(Ir& ir, Op& op, F&& f) {
  if (op.a != kNoTemp) f(op.a);
  if (op.b != kNoTemp) f(op.b);
  if (op.c != kNoTemp) f(op.c);
  if (op.sync >= 0)
    for (SyncEntry& s : ir.syncs[op.sync]) f(s.value);
}

}  // namespace tandem::tcg
