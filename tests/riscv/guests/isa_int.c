// Integer instruction edge cases (RV64IM, Zba, Zbb) through inline assembly; prints results.
#include <stdint.h>
#include <stdio.h>

#define OP2(insn, a, b)                                                    \
  ({                                                                       \
    uint64_t r_;                                                           \
    __asm__ volatile(insn " %0, %1, %2" : "=r"(r_) : "r"(a), "r"(b));      \
    r_;                                                                    \
  })
#define OP1(insn, a)                                                       \
  ({                                                                       \
    uint64_t r_;                                                           \
    __asm__ volatile(insn " %0, %1" : "=r"(r_) : "r"(a));                  \
    r_;                                                                    \
  })
#define OPI(insn, a, imm)                                                  \
  ({                                                                       \
    uint64_t r_;                                                           \
    __asm__ volatile(insn " %0, %1, " #imm : "=r"(r_) : "r"(a));           \
    r_;                                                                    \
  })

static const uint64_t kVals[] = {0,
                                 1,
                                 2,
                                 7,
                                 0xffffffffffffffffull,
                                 0x8000000000000000ull,
                                 0x7fffffffffffffffull,
                                 0x80000000ull,
                                 0xffffffff80000000ull,
                                 0x7fffffffull,
                                 0xfffffffffffffff9ull,
                                 0x0123456789abcdefull};
#define NV (sizeof kVals / sizeof kVals[0])

int main(void) {
  const char* names2[] = {"add",  "sub",   "sll",    "slt",   "sltu",   "xor",    "srl",
                          "sra",  "or",    "and",    "addw",  "subw",   "sllw",   "srlw",
                          "sraw", "mul",   "mulh",   "mulhsu", "mulhu", "div",    "divu",
                          "rem",  "remu",  "mulw",   "divw",  "divuw",  "remw",   "remuw",
                          "andn", "orn",   "xnor",   "max",   "maxu",   "min",    "minu",
                          "rol",  "ror",   "rolw",   "rorw",  "sh1add", "sh2add", "sh3add",
                          "add.uw", "sh1add.uw", "sh2add.uw", "sh3add.uw"};
  for (unsigned i = 0; i < NV; ++i) {
    for (unsigned j = 0; j < NV; ++j) {
      const uint64_t a = kVals[i], b = kVals[j];
      uint64_t r[46];
      int k = 0;
      r[k++] = OP2("add", a, b);
      r[k++] = OP2("sub", a, b);
      r[k++] = OP2("sll", a, b);
      r[k++] = OP2("slt", a, b);
      r[k++] = OP2("sltu", a, b);
      r[k++] = OP2("xor", a, b);
      r[k++] = OP2("srl", a, b);
      r[k++] = OP2("sra", a, b);
      r[k++] = OP2("or", a, b);
      r[k++] = OP2("and", a, b);
      r[k++] = OP2("addw", a, b);
      r[k++] = OP2("subw", a, b);
      r[k++] = OP2("sllw", a, b);
      r[k++] = OP2("srlw", a, b);
      r[k++] = OP2("sraw", a, b);
      r[k++] = OP2("mul", a, b);
      r[k++] = OP2("mulh", a, b);
      r[k++] = OP2("mulhsu", a, b);
      r[k++] = OP2("mulhu", a, b);
      r[k++] = OP2("div", a, b);
      r[k++] = OP2("divu", a, b);
      r[k++] = OP2("rem", a, b);
      r[k++] = OP2("remu", a, b);
      r[k++] = OP2("mulw", a, b);
      r[k++] = OP2("divw", a, b);
      r[k++] = OP2("divuw", a, b);
      r[k++] = OP2("remw", a, b);
      r[k++] = OP2("remuw", a, b);
      r[k++] = OP2("andn", a, b);
      r[k++] = OP2("orn", a, b);
      r[k++] = OP2("xnor", a, b);
      r[k++] = OP2("max", a, b);
      r[k++] = OP2("maxu", a, b);
      r[k++] = OP2("min", a, b);
      r[k++] = OP2("minu", a, b);
      r[k++] = OP2("rol", a, b);
      r[k++] = OP2("ror", a, b);
      r[k++] = OP2("rolw", a, b);
      r[k++] = OP2("rorw", a, b);
      r[k++] = OP2("sh1add", a, b);
      r[k++] = OP2("sh2add", a, b);
      r[k++] = OP2("sh3add", a, b);
      r[k++] = OP2("add.uw", a, b);
      r[k++] = OP2("sh1add.uw", a, b);
      r[k++] = OP2("sh2add.uw", a, b);
      r[k++] = OP2("sh3add.uw", a, b);
      for (int m = 0; m < k; ++m) {
        printf("%s %016llx %016llx = %016llx\n", names2[m], (unsigned long long)a,
               (unsigned long long)b, (unsigned long long)r[m]);
      }
    }
  }
  for (unsigned i = 0; i < NV; ++i) {
    const uint64_t a = kVals[i];
    printf("unary %016llx: clz %llu ctz %llu cpop %llu clzw %llu ctzw %llu cpopw %llu "
           "sext.b %llx sext.h %llx zext.h %llx orc.b %llx rev8 %llx\n",
           (unsigned long long)a, (unsigned long long)OP1("clz", a),
           (unsigned long long)OP1("ctz", a), (unsigned long long)OP1("cpop", a),
           (unsigned long long)OP1("clzw", a), (unsigned long long)OP1("ctzw", a),
           (unsigned long long)OP1("cpopw", a), (unsigned long long)OP1("sext.b", a),
           (unsigned long long)OP1("sext.h", a), (unsigned long long)OP1("zext.h", a),
           (unsigned long long)OP1("orc.b", a), (unsigned long long)OP1("rev8", a));
    printf("imm %016llx: slli63 %llx srli1 %llx srai33 %llx addiw %llx slliw31 %llx srliw5 %llx "
           "sraiw31 %llx rori13 %llx roriw7 %llx slli.uw3 %llx sltiu %llx slti %llx xori %llx\n",
           (unsigned long long)a, (unsigned long long)OPI("slli", a, 63),
           (unsigned long long)OPI("srli", a, 1), (unsigned long long)OPI("srai", a, 33),
           (unsigned long long)OPI("addiw", a, -2048), (unsigned long long)OPI("slliw", a, 31),
           (unsigned long long)OPI("srliw", a, 5), (unsigned long long)OPI("sraiw", a, 31),
           (unsigned long long)OPI("rori", a, 13), (unsigned long long)OPI("roriw", a, 7),
           (unsigned long long)OPI("slli.uw", a, 3), (unsigned long long)OPI("sltiu", a, -1),
           (unsigned long long)OPI("slti", a, -1), (unsigned long long)OPI("xori", a, -1));
  }
  // Loads with sign/zero extension.
  static uint8_t mem[16] = {0x80, 0xff, 0x7f, 0x01, 0xfe, 0xff, 0xff, 0xff,
                            0x00, 0x00, 0x00, 0x80, 0x44, 0x33, 0x22, 0x11};
  int64_t lb, lh, lw;
  uint64_t lbu, lhu, lwu, ld;
  __asm__ volatile("lb %0, 0(%1)" : "=r"(lb) : "r"(mem));
  __asm__ volatile("lh %0, 0(%1)" : "=r"(lh) : "r"(mem));
  __asm__ volatile("lw %0, 4(%1)" : "=r"(lw) : "r"(mem));
  __asm__ volatile("lbu %0, 0(%1)" : "=r"(lbu) : "r"(mem));
  __asm__ volatile("lhu %0, 0(%1)" : "=r"(lhu) : "r"(mem));
  __asm__ volatile("lwu %0, 8(%1)" : "=r"(lwu) : "r"(mem));
  __asm__ volatile("ld %0, 8(%1)" : "=r"(ld) : "r"(mem));
  printf("loads %lld %lld %lld %llu %llu %llu %016llx\n", (long long)lb, (long long)lh,
         (long long)lw, (unsigned long long)lbu, (unsigned long long)lhu,
         (unsigned long long)lwu, (unsigned long long)ld);
  return 0;
}
