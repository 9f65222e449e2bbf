// The encoding table and the field extraction. Each entry says: bits under `mask` must equal
// `match`; the format says where the operands are. Entries are bucketed by the major opcode
// (bits 6..2) at start-up so a decode scans only a handful of candidates.
#include "target/riscv/decode.h"

#include <array>
#include <vector>

namespace tandem::riscv {
namespace {

enum FRegs : uint8_t { kFd = 1, kFs1 = 2, kFs2 = 4, kFs3 = 8 };

struct Encoding {
  Op op;
  Format format;
  uint32_t mask;
  uint32_t match;
  uint8_t fregs;
  bool has_rm;  // funct3 is a rounding mode
};

// Major opcodes (bits 6..0).
constexpr uint32_t kOpLoad = 0x03, kOpLoadFp = 0x07, kOpMiscMem = 0x0f, kOpImm = 0x13,
                   kOpAuipc = 0x17, kOpImm32 = 0x1b, kOpStore = 0x23, kOpStoreFp = 0x27,
                   kOpAmo = 0x2f, kOpOp = 0x33, kOpLui = 0x37, kOpOp32 = 0x3b, kOpMadd = 0x43,
                   kOpMsub = 0x47, kOpNmsub = 0x4b, kOpNmadd = 0x4f, kOpFp = 0x53, kOpBranch = 0x63,
                   kOpJalr = 0x67, kOpJal = 0x6f, kOpSystem = 0x73;

constexpr uint32_t F3(uint32_t f) {
  return f << 12;
}
constexpr uint32_t F7(uint32_t f) {
  return f << 25;
}

constexpr uint32_t kMaskOpc = 0x7f;
constexpr uint32_t kMaskF3 = 0x707f;
constexpr uint32_t kMaskF7 = 0xfe00707f;
constexpr uint32_t kMaskF6 = 0xfc00707f;
constexpr uint32_t kMaskImm12 = 0xfff0707f;  // funct3 + the whole 12-bit immediate field
constexpr uint32_t kMaskF7NoRm = 0xfe00007f;
constexpr uint32_t kMaskF7Rs2NoRm = 0xfff0007f;

Encoding r(Op op, uint32_t opc, uint32_t f3, uint32_t f7) {
  return {op, Format::kR, kMaskF7, F7(f7) | F3(f3) | opc, 0, false};
}
Encoding i(Op op, Format fmt, uint32_t opc, uint32_t f3, uint8_t fregs = 0) {
  return {op, fmt, kMaskF3, F3(f3) | opc, fregs, false};
}
// Unary bit-manipulation ops selected by the full 12-bit immediate field.
Encoding unary(Op op, uint32_t opc, uint32_t f3, uint32_t imm12) {
  return {op, Format::kR1, kMaskImm12, (imm12 << 20) | F3(f3) | opc, 0, false};
}
Encoding shift64(Op op, uint32_t opc, uint32_t f3, uint32_t f6) {
  return {op, Format::kShift, kMaskF6, (f6 << 26) | F3(f3) | opc, 0, false};
}
Encoding shift32(Op op, uint32_t opc, uint32_t f3, uint32_t f7) {
  return {op, Format::kShift, kMaskF7, F7(f7) | F3(f3) | opc, 0, false};
}
Encoding amo(Op op, uint32_t f3, uint32_t f5) {
  return {op, Format::kAmo, 0xf800707f, (f5 << 27) | F3(f3) | kOpAmo, 0, false};
}
Encoding lr(Op op, uint32_t f3) {
  return {op, Format::kLr, 0xf9f0707f, (0x02u << 27) | F3(f3) | kOpAmo, 0, false};
}
// fmt: 0 = S, 1 = D. funct7 = funct5 << 2 | fmt.
Encoding fp_rm(Op op, uint32_t f5, uint32_t fmt) {
  return {op, Format::kR, kMaskF7NoRm, F7(f5 << 2 | fmt) | kOpFp, kFd | kFs1 | kFs2, true};
}
Encoding fp_f3(Op op, uint32_t f5, uint32_t fmt, uint32_t f3, uint8_t fregs) {
  return {op, Format::kR, kMaskF7, F7(f5 << 2 | fmt) | F3(f3) | kOpFp, fregs, false};
}
// Unary with a rounding mode, selected by rs2 (fsqrt, fcvt).
Encoding fp_unary_rm(Op op, uint32_t f5, uint32_t fmt, uint32_t rs2, uint8_t fregs) {
  return {op, Format::kR1, kMaskF7Rs2NoRm, F7(f5 << 2 | fmt) | (rs2 << 20) | kOpFp, fregs, true};
}
// Unary without a rounding mode (fmv, fclass): funct3 fixed, rs2 = 0.
Encoding fp_unary(Op op, uint32_t f5, uint32_t fmt, uint32_t f3, uint8_t fregs) {
  return {op,    Format::kR1, kMaskImm12 | 0xfe000000, F7(f5 << 2 | fmt) | F3(f3) | kOpFp,
          fregs, false};
}
Encoding fma(Op op, uint32_t opc, uint32_t fmt) {
  return {op, Format::kR4, 0x0600007f, (fmt << 25) | opc, kFd | kFs1 | kFs2 | kFs3, true};
}

std::vector<Encoding> build_table() {
  using enum Op;
  std::vector<Encoding> t = {
      {kLui, Format::kU, kMaskOpc, kOpLui, 0, false},
      {kAuipc, Format::kU, kMaskOpc, kOpAuipc, 0, false},
      {kJal, Format::kJ, kMaskOpc, kOpJal, 0, false},
      i(kJalr, Format::kI, kOpJalr, 0),
      i(kBeq, Format::kBranch, kOpBranch, 0),
      i(kBne, Format::kBranch, kOpBranch, 1),
      i(kBlt, Format::kBranch, kOpBranch, 4),
      i(kBge, Format::kBranch, kOpBranch, 5),
      i(kBltu, Format::kBranch, kOpBranch, 6),
      i(kBgeu, Format::kBranch, kOpBranch, 7),
      i(kLb, Format::kLoad, kOpLoad, 0),
      i(kLh, Format::kLoad, kOpLoad, 1),
      i(kLw, Format::kLoad, kOpLoad, 2),
      i(kLd, Format::kLoad, kOpLoad, 3),
      i(kLbu, Format::kLoad, kOpLoad, 4),
      i(kLhu, Format::kLoad, kOpLoad, 5),
      i(kLwu, Format::kLoad, kOpLoad, 6),
      i(kSb, Format::kStore, kOpStore, 0),
      i(kSh, Format::kStore, kOpStore, 1),
      i(kSw, Format::kStore, kOpStore, 2),
      i(kSd, Format::kStore, kOpStore, 3),
      i(kAddi, Format::kI, kOpImm, 0),
      i(kSlti, Format::kI, kOpImm, 2),
      i(kSltiu, Format::kI, kOpImm, 3),
      i(kXori, Format::kI, kOpImm, 4),
      i(kOri, Format::kI, kOpImm, 6),
      i(kAndi, Format::kI, kOpImm, 7),
      shift64(kSlli, kOpImm, 1, 0x00),
      shift64(kSrli, kOpImm, 5, 0x00),
      shift64(kSrai, kOpImm, 5, 0x10),
      r(kAdd, kOpOp, 0, 0x00),
      r(kSub, kOpOp, 0, 0x20),
      r(kSll, kOpOp, 1, 0x00),
      r(kSlt, kOpOp, 2, 0x00),
      r(kSltu, kOpOp, 3, 0x00),
      r(kXor, kOpOp, 4, 0x00),
      r(kSrl, kOpOp, 5, 0x00),
      r(kSra, kOpOp, 5, 0x20),
      r(kOr, kOpOp, 6, 0x00),
      r(kAnd, kOpOp, 7, 0x00),
      i(kAddiw, Format::kI, kOpImm32, 0),
      shift32(kSlliw, kOpImm32, 1, 0x00),
      shift32(kSrliw, kOpImm32, 5, 0x00),
      shift32(kSraiw, kOpImm32, 5, 0x20),
      r(kAddw, kOpOp32, 0, 0x00),
      r(kSubw, kOpOp32, 0, 0x20),
      r(kSllw, kOpOp32, 1, 0x00),
      r(kSrlw, kOpOp32, 5, 0x00),
      r(kSraw, kOpOp32, 5, 0x20),
      // Reserved fence fields are ignored, as the spec asks for forward compatibility.
      i(kFence, Format::kFence, kOpMiscMem, 0),
      i(kFenceI, Format::kNone, kOpMiscMem, 1),
      {kEcall, Format::kNone, 0xffffffff, 0x00000073, 0, false},
      {kEbreak, Format::kNone, 0xffffffff, 0x00100073, 0, false},
      i(kCsrrw, Format::kCsr, kOpSystem, 1),
      i(kCsrrs, Format::kCsr, kOpSystem, 2),
      i(kCsrrc, Format::kCsr, kOpSystem, 3),
      i(kCsrrwi, Format::kCsrI, kOpSystem, 5),
      i(kCsrrsi, Format::kCsrI, kOpSystem, 6),
      i(kCsrrci, Format::kCsrI, kOpSystem, 7),
      // M
      r(kMul, kOpOp, 0, 0x01),
      r(kMulh, kOpOp, 1, 0x01),
      r(kMulhsu, kOpOp, 2, 0x01),
      r(kMulhu, kOpOp, 3, 0x01),
      r(kDiv, kOpOp, 4, 0x01),
      r(kDivu, kOpOp, 5, 0x01),
      r(kRem, kOpOp, 6, 0x01),
      r(kRemu, kOpOp, 7, 0x01),
      r(kMulw, kOpOp32, 0, 0x01),
      r(kDivw, kOpOp32, 4, 0x01),
      r(kDivuw, kOpOp32, 5, 0x01),
      r(kRemw, kOpOp32, 6, 0x01),
      r(kRemuw, kOpOp32, 7, 0x01),
      // A
      lr(kLrW, 2),
      amo(kScW, 2, 0x03),
      amo(kAmoswapW, 2, 0x01),
      amo(kAmoaddW, 2, 0x00),
      amo(kAmoxorW, 2, 0x04),
      amo(kAmoandW, 2, 0x0c),
      amo(kAmoorW, 2, 0x08),
      amo(kAmominW, 2, 0x10),
      amo(kAmomaxW, 2, 0x14),
      amo(kAmominuW, 2, 0x18),
      amo(kAmomaxuW, 2, 0x1c),
      lr(kLrD, 3),
      amo(kScD, 3, 0x03),
      amo(kAmoswapD, 3, 0x01),
      amo(kAmoaddD, 3, 0x00),
      amo(kAmoxorD, 3, 0x04),
      amo(kAmoandD, 3, 0x0c),
      amo(kAmoorD, 3, 0x08),
      amo(kAmominD, 3, 0x10),
      amo(kAmomaxD, 3, 0x14),
      amo(kAmominuD, 3, 0x18),
      amo(kAmomaxuD, 3, 0x1c),
      // F and D loads/stores
      i(kFlw, Format::kLoad, kOpLoadFp, 2, kFd),
      i(kFld, Format::kLoad, kOpLoadFp, 3, kFd),
      i(kFsw, Format::kStore, kOpStoreFp, 2, kFs2),
      i(kFsd, Format::kStore, kOpStoreFp, 3, kFs2),
      fma(kFmaddS, kOpMadd, 0),
      fma(kFmsubS, kOpMsub, 0),
      fma(kFnmsubS, kOpNmsub, 0),
      fma(kFnmaddS, kOpNmadd, 0),
      fma(kFmaddD, kOpMadd, 1),
      fma(kFmsubD, kOpMsub, 1),
      fma(kFnmsubD, kOpNmsub, 1),
      fma(kFnmaddD, kOpNmadd, 1),
  };
  constexpr uint8_t kFF = kFd | kFs1 | kFs2;  // all f registers
  constexpr uint8_t kXFF = kFs1 | kFs2;       // x rd, f sources (compares)
  for (uint32_t fmt = 0; fmt < 2; ++fmt) {
    const bool s = fmt == 0;
    t.push_back(fp_rm(s ? kFaddS : kFaddD, 0x00, fmt));
    t.push_back(fp_rm(s ? kFsubS : kFsubD, 0x01, fmt));
    t.push_back(fp_rm(s ? kFmulS : kFmulD, 0x02, fmt));
    t.push_back(fp_rm(s ? kFdivS : kFdivD, 0x03, fmt));
    t.push_back(fp_unary_rm(s ? kFsqrtS : kFsqrtD, 0x0b, fmt, 0, kFd | kFs1));
    t.push_back(fp_f3(s ? kFsgnjS : kFsgnjD, 0x04, fmt, 0, kFF));
    t.push_back(fp_f3(s ? kFsgnjnS : kFsgnjnD, 0x04, fmt, 1, kFF));
    t.push_back(fp_f3(s ? kFsgnjxS : kFsgnjxD, 0x04, fmt, 2, kFF));
    t.push_back(fp_f3(s ? kFminS : kFminD, 0x05, fmt, 0, kFF));
    t.push_back(fp_f3(s ? kFmaxS : kFmaxD, 0x05, fmt, 1, kFF));
    t.push_back(fp_f3(s ? kFeqS : kFeqD, 0x14, fmt, 2, kXFF));
    t.push_back(fp_f3(s ? kFltS : kFltD, 0x14, fmt, 1, kXFF));
    t.push_back(fp_f3(s ? kFleS : kFleD, 0x14, fmt, 0, kXFF));
    t.push_back(fp_unary(s ? kFclassS : kFclassD, 0x1c, fmt, 1, kFs1));
    t.push_back(fp_unary(s ? kFmvXW : kFmvXD, 0x1c, fmt, 0, kFs1));
    t.push_back(fp_unary(s ? kFmvWX : kFmvDX, 0x1e, fmt, 0, kFd));
    t.push_back(fp_unary_rm(s ? kFcvtWS : kFcvtWD, 0x18, fmt, 0, kFs1));
    t.push_back(fp_unary_rm(s ? kFcvtWuS : kFcvtWuD, 0x18, fmt, 1, kFs1));
    t.push_back(fp_unary_rm(s ? kFcvtLS : kFcvtLD, 0x18, fmt, 2, kFs1));
    t.push_back(fp_unary_rm(s ? kFcvtLuS : kFcvtLuD, 0x18, fmt, 3, kFs1));
    t.push_back(fp_unary_rm(s ? kFcvtSW : kFcvtDW, 0x1a, fmt, 0, kFd));
    t.push_back(fp_unary_rm(s ? kFcvtSWu : kFcvtDWu, 0x1a, fmt, 1, kFd));
    t.push_back(fp_unary_rm(s ? kFcvtSL : kFcvtDL, 0x1a, fmt, 2, kFd));
    t.push_back(fp_unary_rm(s ? kFcvtSLu : kFcvtDLu, 0x1a, fmt, 3, kFd));
  }
  t.push_back(fp_unary_rm(kFcvtSD, 0x08, 0, 1, kFd | kFs1));
  t.push_back(fp_unary_rm(kFcvtDS, 0x08, 1, 0, kFd | kFs1));
  // Zba
  t.push_back(r(kAddUw, kOpOp32, 0, 0x04));
  t.push_back(r(kSh1add, kOpOp, 2, 0x10));
  t.push_back(r(kSh2add, kOpOp, 4, 0x10));
  t.push_back(r(kSh3add, kOpOp, 6, 0x10));
  t.push_back(r(kSh1addUw, kOpOp32, 2, 0x10));
  t.push_back(r(kSh2addUw, kOpOp32, 4, 0x10));
  t.push_back(r(kSh3addUw, kOpOp32, 6, 0x10));
  t.push_back(shift64(kSlliUw, kOpImm32, 1, 0x02));
  // Zbb
  t.push_back(r(kAndn, kOpOp, 7, 0x20));
  t.push_back(r(kOrn, kOpOp, 6, 0x20));
  t.push_back(r(kXnor, kOpOp, 4, 0x20));
  t.push_back(unary(kClz, kOpImm, 1, 0x600));
  t.push_back(unary(kCtz, kOpImm, 1, 0x601));
  t.push_back(unary(kCpop, kOpImm, 1, 0x602));
  t.push_back(unary(kSextB, kOpImm, 1, 0x604));
  t.push_back(unary(kSextH, kOpImm, 1, 0x605));
  t.push_back(unary(kClzw, kOpImm32, 1, 0x600));
  t.push_back(unary(kCtzw, kOpImm32, 1, 0x601));
  t.push_back(unary(kCpopw, kOpImm32, 1, 0x602));
  t.push_back(r(kMax, kOpOp, 6, 0x05));
  t.push_back(r(kMaxu, kOpOp, 7, 0x05));
  t.push_back(r(kMin, kOpOp, 4, 0x05));
  t.push_back(r(kMinu, kOpOp, 5, 0x05));
  t.push_back(unary(kZextH, kOpOp32, 4, 0x080));  // funct7 0000100, rs2 = 0
  t.push_back(r(kRol, kOpOp, 1, 0x30));
  t.push_back(r(kRor, kOpOp, 5, 0x30));
  t.push_back(shift64(kRori, kOpImm, 5, 0x18));
  t.push_back(r(kRolw, kOpOp32, 1, 0x30));
  t.push_back(r(kRorw, kOpOp32, 5, 0x30));
  t.push_back(shift32(kRoriw, kOpImm32, 5, 0x30));
  t.push_back(unary(kOrcB, kOpImm, 5, 0x287));
  t.push_back(unary(kRev8, kOpImm, 5, 0x6b8));
  return t;
}

struct Table {
  std::array<std::vector<Encoding>, 32> by_major;  // index: bits 6..2
  Table() {
    for (const Encoding& e : build_table()) by_major[(e.match >> 2) & 31].push_back(e);
  }
};

const Table& table() {
  static const Table t;
  return t;
}

int64_t sext(uint64_t value, unsigned bits) {
  const unsigned shift = 64 - bits;
  return static_cast<int64_t>(value << shift) >> shift;
}

uint32_t bits(uint32_t v, unsigned hi, unsigned lo) {
  return (v >> lo) & ((1u << (hi - lo + 1)) - 1);
}

// ---- 32-bit encoders used by the compressed expansion ----
uint32_t enc_i(uint32_t opc, uint32_t rd, uint32_t f3, uint32_t rs1, int32_t imm) {
  return (static_cast<uint32_t>(imm) & 0xfff) << 20 | rs1 << 15 | f3 << 12 | rd << 7 | opc;
}
uint32_t enc_r(uint32_t opc, uint32_t rd, uint32_t f3, uint32_t rs1, uint32_t rs2, uint32_t f7) {
  return f7 << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | rd << 7 | opc;
}
uint32_t enc_s(uint32_t opc, uint32_t f3, uint32_t rs1, uint32_t rs2, int32_t imm) {
  const uint32_t u = static_cast<uint32_t>(imm);
  return bits(u, 11, 5) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | bits(u, 4, 0) << 7 | opc;
}
uint32_t enc_b(uint32_t f3, uint32_t rs1, uint32_t rs2, int32_t imm) {
  const uint32_t u = static_cast<uint32_t>(imm);
  return bits(u, 12, 12) << 31 | bits(u, 10, 5) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 |
         bits(u, 4, 1) << 8 | bits(u, 11, 11) << 7 | kOpBranch;
}
uint32_t enc_j(uint32_t rd, int32_t imm) {
  const uint32_t u = static_cast<uint32_t>(imm);
  return bits(u, 20, 20) << 31 | bits(u, 10, 1) << 21 | bits(u, 11, 11) << 20 |
         bits(u, 19, 12) << 12 | rd << 7 | kOpJal;
}
uint32_t enc_u(uint32_t opc, uint32_t rd, int32_t imm) {
  return (static_cast<uint32_t>(imm) & 0xfffff000u) | rd << 7 | opc;
}

int32_t sext32(uint32_t value, unsigned bits_) {
  return static_cast<int32_t>(sext(value, bits_));
}

}  // namespace

uint32_t expand_compressed(uint16_t c16) {
  const uint32_t c = c16;
  const uint32_t f3 = bits(c, 15, 13);
  const uint32_t rd = bits(c, 11, 7);  // full register fields (quadrants 1 and 2)
  const uint32_t rs2 = bits(c, 6, 2);
  const uint32_t rdp = bits(c, 4, 2) + 8;  // rd' / rs2'
  const uint32_t rs1p = bits(c, 9, 7) + 8;
  // imm[5] = bit 12, imm[4:0] = bits 6..2, the common 6-bit immediate.
  const uint32_t imm6 = bits(c, 12, 12) << 5 | bits(c, 6, 2);
  // Offsets of the register-based loads/stores.
  const uint32_t off_w = bits(c, 12, 10) << 3 | bits(c, 6, 6) << 2 | bits(c, 5, 5) << 6;
  const uint32_t off_d = bits(c, 12, 10) << 3 | bits(c, 6, 5) << 6;
  switch (c & 3) {
    case 0:
      switch (f3) {
        case 0: {  // c.addi4spn
          const uint32_t imm =
              bits(c, 12, 11) << 4 | bits(c, 10, 7) << 6 | bits(c, 6, 6) << 2 | bits(c, 5, 5) << 3;
          if (imm == 0) return 0;  // includes the all-zero instruction
          return enc_i(kOpImm, rdp, 0, 2, static_cast<int32_t>(imm));
        }
        case 1:
          return enc_i(kOpLoadFp, rdp, 3, rs1p, off_d);  // c.fld
        case 2:
          return enc_i(kOpLoad, rdp, 2, rs1p, off_w);  // c.lw
        case 3:
          return enc_i(kOpLoad, rdp, 3, rs1p, off_d);  // c.ld
        case 5:
          return enc_s(kOpStoreFp, 3, rs1p, rdp, off_d);  // c.fsd
        case 6:
          return enc_s(kOpStore, 2, rs1p, rdp, off_w);  // c.sw
        case 7:
          return enc_s(kOpStore, 3, rs1p, rdp, off_d);  // c.sd
        default:
          return 0;
      }
    case 1:
      switch (f3) {
        case 0:
          return enc_i(kOpImm, rd, 0, rd, sext32(imm6, 6));  // c.addi / c.nop
        case 1:                                              // c.addiw
          if (rd == 0) return 0;
          return enc_i(kOpImm32, rd, 0, rd, sext32(imm6, 6));
        case 2:
          return enc_i(kOpImm, rd, 0, 0, sext32(imm6, 6));  // c.li
        case 3:
          if (rd == 2) {  // c.addi16sp
            const uint32_t imm = bits(c, 12, 12) << 9 | bits(c, 6, 6) << 4 | bits(c, 5, 5) << 6 |
                                 bits(c, 4, 3) << 7 | bits(c, 2, 2) << 5;
            if (imm == 0) return 0;
            return enc_i(kOpImm, 2, 0, 2, sext32(imm, 10));
          }
          if (imm6 == 0) return 0;  // c.lui with nzimm = 0 is reserved
          return enc_u(kOpLui, rd, sext32(imm6 << 12, 18));
        case 4: {
          const uint32_t rdq = rs1p;
          switch (bits(c, 11, 10)) {
            case 0:
              return enc_i(kOpImm, rdq, 5, rdq, static_cast<int32_t>(imm6));  // c.srli
            case 1:                                                           // c.srai
              return enc_i(kOpImm, rdq, 5, rdq, static_cast<int32_t>(imm6 | 0x400));
            case 2:
              return enc_i(kOpImm, rdq, 7, rdq, sext32(imm6, 6));  // c.andi
            default: {
              const uint32_t sub = bits(c, 6, 5);
              if (bits(c, 12, 12) == 0) {
                static constexpr uint32_t kF3[4] = {0, 4, 6, 7};  // sub xor or and
                return enc_r(kOpOp, rdq, kF3[sub], rdq, rdp, sub == 0 ? 0x20 : 0);
              }
              if (sub == 0) return enc_r(kOpOp32, rdq, 0, rdq, rdp, 0x20);  // c.subw
              if (sub == 1) return enc_r(kOpOp32, rdq, 0, rdq, rdp, 0);     // c.addw
              return 0;
            }
          }
        }
        case 5: {  // c.j
          const uint32_t imm = bits(c, 12, 12) << 11 | bits(c, 11, 11) << 4 | bits(c, 10, 9) << 8 |
                               bits(c, 8, 8) << 10 | bits(c, 7, 7) << 6 | bits(c, 6, 6) << 7 |
                               bits(c, 5, 3) << 1 | bits(c, 2, 2) << 5;
          return enc_j(0, sext32(imm, 12));
        }
        default: {  // 6: c.beqz, 7: c.bnez
          const uint32_t imm = bits(c, 12, 12) << 8 | bits(c, 11, 10) << 3 | bits(c, 6, 5) << 6 |
                               bits(c, 4, 3) << 1 | bits(c, 2, 2) << 5;
          return enc_b(f3 == 6 ? 0 : 1, rs1p, 0, sext32(imm, 9));
        }
      }
    case 2:
      switch (f3) {
        case 0:
          return enc_i(kOpImm, rd, 1, rd, static_cast<int32_t>(imm6));  // c.slli
        case 1: {                                                       // c.fldsp
          const uint32_t off = bits(c, 12, 12) << 5 | bits(c, 6, 5) << 3 | bits(c, 4, 2) << 6;
          return enc_i(kOpLoadFp, rd, 3, 2, static_cast<int32_t>(off));
        }
        case 2: {  // c.lwsp
          if (rd == 0) return 0;
          const uint32_t off = bits(c, 12, 12) << 5 | bits(c, 6, 4) << 2 | bits(c, 3, 2) << 6;
          return enc_i(kOpLoad, rd, 2, 2, static_cast<int32_t>(off));
        }
        case 3: {  // c.ldsp
          if (rd == 0) return 0;
          const uint32_t off = bits(c, 12, 12) << 5 | bits(c, 6, 5) << 3 | bits(c, 4, 2) << 6;
          return enc_i(kOpLoad, rd, 3, 2, static_cast<int32_t>(off));
        }
        case 4:
          if (bits(c, 12, 12) == 0) {
            if (rs2 == 0) {  // c.jr
              if (rd == 0) return 0;
              return enc_i(kOpJalr, 0, 0, rd, 0);
            }
            return enc_r(kOpOp, rd, 0, 0, rs2, 0);  // c.mv
          }
          if (rs2 == 0) {
            if (rd == 0) return 0x00100073;      // c.ebreak
            return enc_i(kOpJalr, 1, 0, rd, 0);  // c.jalr
          }
          return enc_r(kOpOp, rd, 0, rd, rs2, 0);  // c.add
        case 5: {                                  // c.fsdsp
          const uint32_t off = bits(c, 12, 10) << 3 | bits(c, 9, 7) << 6;
          return enc_s(kOpStoreFp, 3, 2, rs2, static_cast<int32_t>(off));
        }
        case 6: {  // c.swsp
          const uint32_t off = bits(c, 12, 9) << 2 | bits(c, 8, 7) << 6;
          return enc_s(kOpStore, 2, 2, rs2, static_cast<int32_t>(off));
        }
        default: {  // c.sdsp
          const uint32_t off = bits(c, 12, 10) << 3 | bits(c, 9, 7) << 6;
          return enc_s(kOpStore, 3, 2, rs2, static_cast<int32_t>(off));
        }
      }
    default:
      return 0;
  }
}

DecodedInsn decode(uint32_t raw) {
  DecodedInsn d;
  uint32_t w = raw;
  if ((raw & 3) != 3) {
    d.length = 2;
    d.raw = raw & 0xffff;
    w = expand_compressed(static_cast<uint16_t>(raw));
    if (w == 0) return d;
  } else {
    d.raw = raw;
    if ((raw & 0x1f) == 0x1f) return d;  // 48-bit and longer encodings: not supported
  }
  d.expanded = w;
  const Encoding* found = nullptr;
  for (const Encoding& e : table().by_major[(w >> 2) & 31]) {
    if ((w & e.mask) == e.match) {
      found = &e;
      break;
    }
  }
  if (!found) return d;
  d.rd = bits(w, 11, 7);
  d.rs1 = bits(w, 19, 15);
  d.rs2 = bits(w, 24, 20);
  d.rs3 = bits(w, 31, 27);
  d.rm = bits(w, 14, 12);
  if (found->has_rm && (d.rm == 5 || d.rm == 6)) return d;  // reserved rounding modes
  d.fregs = found->fregs;
  d.uses_rm = found->has_rm;
  switch (found->format) {
    case Format::kI:
    case Format::kLoad:
      d.imm = sext(w >> 20, 12);
      break;
    case Format::kStore:
      d.imm = sext(bits(w, 31, 25) << 5 | bits(w, 11, 7), 12);
      break;
    case Format::kBranch:
      d.imm = sext(
          bits(w, 31, 31) << 12 | bits(w, 7, 7) << 11 | bits(w, 30, 25) << 5 | bits(w, 11, 8) << 1,
          13);
      break;
    case Format::kU:
      d.imm = sext(w & 0xfffff000u, 32);
      break;
    case Format::kJ:
      d.imm = sext(bits(w, 31, 31) << 20 | bits(w, 19, 12) << 12 | bits(w, 20, 20) << 11 |
                       bits(w, 30, 21) << 1,
                   21);
      break;
    case Format::kShift:
      // 6-bit shift amounts for the 64-bit forms; the W forms' masks pin bit 25 to zero.
      d.imm = bits(w, 25, 20);
      break;
    case Format::kCsr:
      d.csr = static_cast<uint16_t>(w >> 20);
      break;
    case Format::kCsrI:
      d.csr = static_cast<uint16_t>(w >> 20);
      d.imm = d.rs1;
      break;
    case Format::kAmo:
    case Format::kLr:
      d.aq = bits(w, 26, 26);
      d.rl = bits(w, 25, 25);
      break;
    case Format::kFence:
      d.imm = w >> 20;
      break;
    default:
      break;
  }
  d.op = found->op;
  d.format = found->format;
  return d;
}

const char* op_name(Op op) {
  static constexpr const char* kNames[] = {
#define TANDEM_RISCV_OP_NAME(name, mnemonic) mnemonic,
      TANDEM_RISCV_OPS(TANDEM_RISCV_OP_NAME)
#undef TANDEM_RISCV_OP_NAME
  };
  const auto index = static_cast<size_t>(op);
  return index < std::size(kNames) ? kNames[index] : "?";
}

}  // namespace tandem::riscv
