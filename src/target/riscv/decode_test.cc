// Decoder and disassembler tests. The vectors come from GNU as/objdump (an independent
// implementation of the encodings); see tests/riscv/tools/gen_decode_vectors.py.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "target/riscv/decode.h"

namespace tandem::riscv {
namespace {

struct Vector32 {
  uint64_t pc;
  uint32_t raw;
  const char* text;
};
struct Vector16 {
  uint16_t raw;
  uint32_t expanded;
  const char* text;
};

#include "target/riscv/decode_vectors.inc"

const Vector32 kVectors32[] = {DECODE_VECTORS_32};
const Vector16 kVectors16[] = {DECODE_VECTORS_16};

// Collapses runs of blanks to one space (objdump separates operands with a tab).
std::string squash(const std::string& s) {
  std::string out;
  for (char c : s) {
    const bool blank = c == ' ' || c == '\t';
    if (blank && !out.empty() && out.back() == ' ') continue;
    out.push_back(blank ? ' ' : c);
  }
  return out;
}

TEST(Decode, EveryInstructionMatchesObjdump) {
  for (const Vector32& v : kVectors32) {
    const DecodedInsn d = decode(v.raw);
    ASSERT_NE(d.op, Op::kIllegal) << v.text;
    EXPECT_EQ(d.length, 4) << v.text;
    EXPECT_EQ(d.raw, v.raw);
    EXPECT_EQ(d.expanded, v.raw);
    EXPECT_EQ(squash(disassemble(d, v.pc)), v.text) << std::hex << v.raw;
  }
}

TEST(Decode, VectorsCoverEveryOp) {
  std::set<Op> seen;
  for (const Vector32& v : kVectors32) seen.insert(decode(v.raw).op);
  for (unsigned i = 1; i < static_cast<unsigned>(Op::kCount); ++i) {
    EXPECT_TRUE(seen.count(static_cast<Op>(i))) << op_name(static_cast<Op>(i));
  }
}

TEST(Decode, CompressedExpandsToSpecEquivalent) {
  for (const Vector16& v : kVectors16) {
    EXPECT_EQ(expand_compressed(v.raw), v.expanded) << v.text;
    const DecodedInsn c = decode(v.raw);
    const DecodedInsn w = decode(v.expanded);
    ASSERT_NE(c.op, Op::kIllegal) << v.text;
    EXPECT_EQ(c.length, 2);
    EXPECT_EQ(c.raw, v.raw);
    EXPECT_EQ(c.op, w.op) << v.text;
    EXPECT_EQ(c.rd, w.rd) << v.text;
    EXPECT_EQ(c.rs1, w.rs1) << v.text;
    EXPECT_EQ(c.rs2, w.rs2) << v.text;
    EXPECT_EQ(c.imm, w.imm) << v.text;
  }
}

TEST(Decode, CompressedIgnoresUpperHalf) {
  const DecodedInsn d = decode(0xdead0000u | 0x1501);  // c.addi a0,-32
  EXPECT_EQ(d.op, Op::kAddi);
  EXPECT_EQ(d.length, 2);
  EXPECT_EQ(d.imm, -32);
  EXPECT_EQ(insn_length(0x1501), 2u);
  EXPECT_EQ(insn_length(0x0513), 4u);
}

TEST(Decode, Fields) {
  DecodedInsn d = decode(0x80010503);  // lb a0,-2048(sp)
  EXPECT_EQ(d.op, Op::kLb);
  EXPECT_EQ(d.rd, 10);
  EXPECT_EQ(d.rs1, 2);
  EXPECT_EQ(d.imm, -2048);
  d = decode(0x80b50063);  // beq a0,a1,.-4096
  EXPECT_EQ(d.imm, -4096);
  d = decode(0x001000ef);  // jal ra,.+2048
  EXPECT_EQ(d.imm, 2048);
  d = decode(0x12345537);  // lui a0,0x12345
  EXPECT_EQ(d.imm, 0x12345000);
  d = decode(0xfffff317);  // auipc t1,0xfffff: sign-extended
  EXPECT_EQ(d.imm, -4096);
  d = decode(0x03f5d513);  // srli a0,a1,63
  EXPECT_EQ(d.op, Op::kSrli);
  EXPECT_EQ(d.imm, 63);
  d = decode(0x0ec5a52f);  // amoswap.w.aqrl? (aq=1, rl=1)
  EXPECT_TRUE(d.aq);
  EXPECT_TRUE(d.rl);
  d = decode(0x68c5f543);  // fmadd.s fa0,fa1,fa2,fa3 (rm=7)
  EXPECT_EQ(d.op, Op::kFmaddS);
  EXPECT_EQ(d.rs3, 13);
  EXPECT_EQ(d.rm, 7);
  EXPECT_TRUE(d.uses_rm);
  EXPECT_EQ(d.fregs, 0xf);
  d = decode(0x00302573);  // csrrs a0,fcsr,zero (frcsr)
  EXPECT_EQ(d.op, Op::kCsrrs);
  EXPECT_EQ(d.csr, 3);
}

TEST(Decode, IllegalEncodings) {
  const uint32_t illegal32[] = {
      0xffffffff,                               // all ones
      0x0000001f,                               // 48-bit encoding space
      0x0000003f,                               // 64-bit encoding space
      0x00004073,                               // SYSTEM funct3 = 4
      0x30200073,                               // mret (privileged)
      0x10500073,                               // wfi (privileged)
      0x12000073,                               // sfence.vma
      0x00c5a52f | (0x02u << 27) | (1u << 20),  // lr.w with rs2 != 0
      0x0000502f,                               // AMO funct3 = 5
      0x00c5d053,                               // fadd.s with rm = 5
      0x00c5e053,                               // fadd.s with rm = 6
      0x4020f053,                               // fcvt.s.d with rm = 7 but rs2 = 2
      0x58105053,                               // fsqrt.s with rs2 != 0
      0x0200007b,                               // custom-3
      0x00007003,                               // load funct3 = 7
      0x00004023,                               // store funct3 = 4
      0x00002063,                               // branch funct3 = 2
      0x00001067,                               // jalr funct3 = 1
      0x40001033,                               // funct7 0100000 with sll
      0x00001013 | (1u << 31),                  // slli with junk funct6
      0x0000201b,                               // OP-IMM-32 funct3 = 2
      0x0200101b,                               // slliw with shamt[5] set
      0x60301013,                               // Zbb unary 0x603 (not in Zbb)
      0x08001033,                               // pack (Zbkb, not supported)
  };
  for (uint32_t raw : illegal32) {
    const DecodedInsn d = decode(raw);
    EXPECT_EQ(d.op, Op::kIllegal) << std::hex << raw << " decoded as " << op_name(d.op);
    EXPECT_EQ(d.raw, raw);
  }
  const uint16_t illegal16[] = {
      0x0000,           // all zero
      0x0010 & 0xffe0,  // c.addi4spn nzuimm = 0 (rd' = a0)
      0x8000,           // quadrant 0 funct3 = 4 (reserved)
      0x6101,           // c.addi16sp with nzimm = 0
      0x6501,           // c.lui a0 with nzimm = 0
      0x2001,           // c.addiw rd = 0
      0x9c41,           // c.subw-space funct 10 (reserved)
      0x9c61,           // c.subw-space funct 11 (reserved)
      0x8002,           // c.jr x0
      0x4002,           // c.lwsp x0
      0x6002,           // c.ldsp x0
  };
  for (uint16_t raw : illegal16) {
    EXPECT_EQ(expand_compressed(raw), 0u) << std::hex << raw;
    const DecodedInsn d = decode(raw);
    EXPECT_EQ(d.op, Op::kIllegal) << std::hex << raw;
    EXPECT_EQ(d.length, 2);
  }
}

TEST(Disasm, Illegal) {
  EXPECT_EQ(squash(disassemble(decode(0xffffffff), 0)), "illegal 0xffffffff");
  EXPECT_EQ(squash(disassemble(decode(0x0000), 0)), "illegal 0x0000");
}

TEST(Disasm, RegisterNames) {
  EXPECT_STREQ(xreg_name(0), "zero");
  EXPECT_STREQ(xreg_name(2), "sp");
  EXPECT_STREQ(xreg_name(31), "t6");
  EXPECT_STREQ(freg_name(10), "fa0");
  EXPECT_STREQ(freg_name(31), "ft11");
}

}  // namespace
}  // namespace tandem::riscv
