// The RISC-V instruction decoder: the one place that knows the encodings of RV64IMAFDC + Zicsr +
// Zifencei + Zba + Zbb. Compressed (16-bit) instructions are expanded to their 32-bit
// equivalents, so consumers (interpreter, translator, disassembler) only ever see 32-bit
// semantics; DecodedInsn::length says how far the pc advances.
#pragma once

#include <cstdint>
#include <string>

namespace tandem::riscv {

// X(enumerator, mnemonic). The order is part of no ABI; switch on the enumerators.
#define TANDEM_RISCV_OPS(X)                                                                        \
  X(kIllegal, "illegal")                                                                           \
  /* RV64I */                                                                                      \
  X(kLui, "lui")                                                                                   \
  X(kAuipc, "auipc") X(kJal, "jal") X(kJalr, "jalr") X(kBeq, "beq") X(kBne, "bne") X(kBlt, "blt")  \
      X(kBge, "bge") X(kBltu, "bltu") X(kBgeu, "bgeu") X(kLb, "lb") X(kLh, "lh") X(kLw, "lw")      \
          X(kLd, "ld") X(kLbu, "lbu") X(kLhu, "lhu") X(kLwu, "lwu") X(kSb, "sb") X(kSh, "sh")      \
              X(kSw, "sw") X(kSd, "sd") X(kAddi, "addi") X(kSlti, "slti") X(kSltiu, "sltiu") X(    \
                  kXori, "xori") X(kOri, "ori") X(kAndi, "andi") X(kSlli, "slli") X(kSrli, "srli") \
                  X(kSrai, "srai") X(kAdd, "add") X(kSub, "sub") X(kSll, "sll") X(kSlt, "slt")     \
                      X(kSltu, "sltu") X(kXor, "xor") X(kSrl, "srl") X(kSra, "sra") X(kOr, "or")   \
                          X(kAnd, "and") X(kAddiw, "addiw") X(kSlliw, "slliw") X(kSrliw, "srliw")  \
                              X(kSraiw, "sraiw") X(kAddw, "addw") X(kSubw, "subw")                 \
                                  X(kSllw, "sllw") X(kSrlw, "srlw") X(kSraw, "sraw")               \
                                      X(kFence, "fence") X(kFenceI, "fence.i") X(kEcall, "ecall")  \
                                          X(kEbreak, "ebreak") /* Zicsr */                         \
      X(kCsrrw, "csrrw") X(kCsrrs, "csrrs") X(kCsrrc, "csrrc") X(kCsrrwi, "csrrwi")                \
          X(kCsrrsi, "csrrsi") X(kCsrrci, "csrrci") /* M */                                        \
      X(kMul, "mul") X(kMulh, "mulh") X(kMulhsu, "mulhsu") X(kMulhu, "mulhu") X(kDiv, "div")       \
          X(kDivu, "divu") X(kRem, "rem") X(kRemu, "remu") X(kMulw, "mulw") X(kDivw, "divw")       \
              X(kDivuw, "divuw") X(kRemw, "remw") X(kRemuw, "remuw") /* A */                       \
      X(kLrW, "lr.w") X(kScW, "sc.w") X(kAmoswapW, "amoswap.w") X(kAmoaddW, "amoadd.w")            \
          X(kAmoxorW, "amoxor.w") X(kAmoandW, "amoand.w") X(kAmoorW, "amoor.w")                    \
              X(kAmominW, "amomin.w") X(kAmomaxW, "amomax.w") X(kAmominuW, "amominu.w")            \
                  X(kAmomaxuW, "amomaxu.w") X(kLrD, "lr.d") X(kScD, "sc.d")                        \
                      X(kAmoswapD, "amoswap.d") X(kAmoaddD, "amoadd.d") X(kAmoxorD, "amoxor.d")    \
                          X(kAmoandD, "amoand.d") X(kAmoorD, "amoor.d") X(kAmominD, "amomin.d")    \
                              X(kAmomaxD, "amomax.d") X(kAmominuD, "amominu.d")                    \
                                  X(kAmomaxuD, "amomaxu.d") /* F */                                \
      X(kFlw, "flw") X(kFsw, "fsw") X(kFmaddS, "fmadd.s") X(kFmsubS, "fmsub.s")                    \
          X(kFnmsubS, "fnmsub.s") X(kFnmaddS, "fnmadd.s") X(kFaddS, "fadd.s") X(kFsubS, "fsub.s")  \
              X(kFmulS, "fmul.s") X(kFdivS, "fdiv.s") X(kFsqrtS, "fsqrt.s") X(kFsgnjS, "fsgnj.s")  \
                  X(kFsgnjnS, "fsgnjn.s") X(kFsgnjxS, "fsgnjx.s") X(kFminS, "fmin.s")              \
                      X(kFmaxS, "fmax.s") X(kFcvtWS, "fcvt.w.s") X(kFcvtWuS, "fcvt.wu.s")          \
                          X(kFcvtLS, "fcvt.l.s") X(kFcvtLuS, "fcvt.lu.s") X(kFmvXW, "fmv.x.w")     \
                              X(kFeqS, "feq.s") X(kFltS, "flt.s") X(kFleS, "fle.s")                \
                                  X(kFclassS, "fclass.s") X(kFcvtSW, "fcvt.s.w")                   \
                                      X(kFcvtSWu, "fcvt.s.wu") X(kFcvtSL, "fcvt.s.l")              \
                                          X(kFcvtSLu, "fcvt.s.lu") X(kFmvWX, "fmv.w.x") /* D */    \
      X(kFld, "fld") X(kFsd, "fsd") X(kFmaddD, "fmadd.d") X(kFmsubD, "fmsub.d")                    \
          X(kFnmsubD, "fnmsub.d") X(kFnmaddD, "fnmadd.d") X(kFaddD, "fadd.d") X(kFsubD, "fsub.d")  \
              X(kFmulD, "fmul.d") X(kFdivD, "fdiv.d") X(kFsqrtD, "fsqrt.d") X(kFsgnjD, "fsgnj.d")  \
                  X(kFsgnjnD, "fsgnjn.d") X(kFsgnjxD, "fsgnjx.d") X(kFminD, "fmin.d")              \
                      X(kFmaxD, "fmax.d") X(kFcvtSD, "fcvt.s.d") X(kFcvtDS, "fcvt.d.s")            \
                          X(kFeqD, "feq.d") X(kFltD, "flt.d") X(kFleD, "fle.d")                    \
                              X(kFclassD, "fclass.d") X(kFcvtWD, "fcvt.w.d")                       \
                                  X(kFcvtWuD, "fcvt.wu.d") X(kFcvtLD, "fcvt.l.d")                  \
                                      X(kFcvtLuD, "fcvt.lu.d") X(kFmvXD, "fmv.x.d")                \
                                          X(kFcvtDW, "fcvt.d.w") X(kFcvtDWu, "fcvt.d.wu")          \
                                              X(kFcvtDL, "fcvt.d.l") X(kFcvtDLu, "fcvt.d.lu")      \
                                                  X(kFmvDX, "fmv.d.x") /* Zba */                   \
      X(kAddUw, "add.uw") X(kSh1add, "sh1add") X(kSh2add, "sh2add") X(kSh3add, "sh3add")           \
          X(kSh1addUw, "sh1add.uw") X(kSh2addUw, "sh2add.uw") X(kSh3addUw, "sh3add.uw")            \
              X(kSlliUw, "slli.uw") /* Zbb */                                                      \
      X(kAndn, "andn") X(kOrn, "orn") X(kXnor, "xnor") X(kClz, "clz") X(kClzw, "clzw")             \
          X(kCtz, "ctz") X(kCtzw, "ctzw") X(kCpop, "cpop") X(kCpopw, "cpopw") X(kMax, "max")       \
              X(kMaxu, "maxu") X(kMin, "min") X(kMinu, "minu") X(kSextB, "sext.b")                 \
                  X(kSextH, "sext.h") X(kZextH, "zext.h") X(kRol, "rol") X(kRolw, "rolw")          \
                      X(kRor, "ror") X(kRori, "rori") X(kRoriw, "roriw") X(kRorw, "rorw")          \
                          X(kOrcB, "orc.b") X(kRev8, "rev8")

enum class Op : uint16_t {
#define TANDEM_RISCV_OP_ENUM(name, mnemonic) name,
  TANDEM_RISCV_OPS(TANDEM_RISCV_OP_ENUM)
#undef TANDEM_RISCV_OP_ENUM
      kCount
};

// How the operand fields of an instruction are laid out (drives field extraction and the
// disassembler's operand syntax).
enum class Format : uint8_t {
  kNone,    // ecall, ebreak, fence.i
  kR,       // rd, rs1, rs2
  kR1,      // rd, rs1 (unary: clz, fmv.x.w, fclass, fsqrt, fcvt)
  kR4,      // rd, rs1, rs2, rs3 (fused multiply-add)
  kI,       // rd, rs1, imm
  kShift,   // rd, rs1, shamt
  kLoad,    // rd, imm(rs1)
  kStore,   // rs2, imm(rs1)
  kBranch,  // rs1, rs2, pc-relative imm
  kU,       // rd, imm (already shifted left by 12)
  kJ,       // rd, pc-relative imm
  kCsr,     // rd, csr, rs1
  kCsrI,    // rd, csr, uimm (in imm)
  kAmo,     // rd, rs2, (rs1) with aq/rl
  kLr,      // rd, (rs1) with aq/rl
  kFence,   // pred, succ (imm = fm<<8 | pred<<4 | succ)
};

struct DecodedInsn {
  Op op = Op::kIllegal;
  Format format = Format::kNone;
  uint8_t length = 4;  // bytes: 2 for a compressed instruction, else 4
  uint8_t rd = 0, rs1 = 0, rs2 = 0, rs3 = 0;
  uint8_t rm = 0;        // rounding-mode field of FP instructions (7 = dynamic, from frm)
  bool uses_rm = false;  // funct3 is a rounding mode (FP arithmetic and conversions)
  bool aq = false, rl = false;
  // Register classes of the operands: bit 0 rd, 1 rs1, 2 rs2, 3 rs3 set when it names an f
  // register.
  uint8_t fregs = 0;
  uint16_t csr = 0;
  // Sign-extended immediate: I/S/B/J offsets, U value (<< 12 applied), shift amount, CSR uimm,
  // fence bits.
  int64_t imm = 0;
  uint32_t raw = 0;       // instruction bits as fetched (low 16 bits only for compressed)
  uint32_t expanded = 0;  // the 32-bit equivalent (== raw for 32-bit instructions)
};

// Whether a FENCE orders earlier stores before later loads (predecessor set W or O, successor
// set R or I). x86 keeps every other pair of accesses in order (TSO) but lets a load pass an
// earlier store to another address, so these fences alone need a host barrier: without it a
// guest's `fence rw,rw` between "publish" and "check" (virtio's used_event and used index, a
// Dekker-style handshake with another thread) can see the other side's old value while the
// other side sees ours, and both wait. FENCE.TSO (fm = 1000, rw,rw) leaves store -> load
// unordered; other fm values are reserved and act as a plain fence of their sets.
inline bool fence_orders_store_load(const DecodedInsn& d) {
  const unsigned bits = static_cast<unsigned>(d.imm);
  const unsigned fm = (bits >> 8) & 0xf, pred = (bits >> 4) & 0xf, succ = bits & 0xf;
  constexpr unsigned kI = 8, kO = 4, kR = 2, kW = 1;
  if (fm == 0b1000 && pred == (kR | kW) && succ == (kR | kW)) return false;  // fence.tso
  return (pred & (kW | kO)) && (succ & (kR | kI));
}

// Length in bytes of the instruction whose first 16 bits (lowest addressed) are `low_half`:
// 2 or 4. Fetch the second half only when this says 4 (it may lie on another page).
inline unsigned insn_length(uint16_t low_half) {
  return (low_half & 3) == 3 ? 4 : 2;
}

// Decodes one instruction. For a compressed instruction only the low 16 bits of `raw` are
// looked at. Unknown, reserved or unsupported encodings give op == Op::kIllegal (raw is kept).
// Static rounding modes 5 and 6 are reserved and decode as illegal.
DecodedInsn decode(uint32_t raw);

// The 32-bit equivalent of a 16-bit compressed instruction, or 0 when it is illegal/reserved.
uint32_t expand_compressed(uint16_t c);

const char* op_name(Op op);

// ABI register names ("zero", "ra", ..., "t6"; "ft0" ... "ft11").
const char* xreg_name(unsigned r);
const char* freg_name(unsigned r);

// One line of assembly, e.g. "addi    a0,a1,-3" (no address, no raw bytes). pc resolves
// branch/jump targets.
std::string disassemble(const DecodedInsn& insn, uint64_t pc);

}  // namespace tandem::riscv
