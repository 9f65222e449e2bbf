// F and D instructions under every rounding mode (dynamic frm and static rm), with the
// accrued exception flags after each, NaN boxing, fmin/fmax, compares, conversions and fused
// multiply-add. Prints raw bits.
#include <stdint.h>
#include <stdio.h>

static const uint64_t kD[] = {
    0x0000000000000000ull, 0x8000000000000000ull, 0x3ff0000000000000ull, 0xbff8000000000000ull,
    0x3fd5555555555555ull, 0x7ff0000000000000ull, 0xfff0000000000000ull, 0x7ff8000000000000ull,
    0x7ff0000000000001ull, 0x7ff8dead00000000ull, 0x0000000000000001ull, 0x0010000000000000ull,
    0x7fefffffffffffffull, 0x43e0000000000000ull, 0xc1e0000000000001ull, 0x4004000000000000ull,
    0x3ca0000000000000ull};
static const uint32_t kS[] = {0x00000000, 0x80000000, 0x3f800000, 0xbfc00000, 0x3eaaaaab,
                              0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0x7fc0dead,
                              0x00000001, 0x00800000, 0x7f7fffff, 0x4f000000, 0xcf000001,
                              0x40200000, 0x33800000};
#define ND (sizeof kD / sizeof kD[0])
#define NS (sizeof kS / sizeof kS[0])

static inline void set_rm(unsigned rm) { __asm__ volatile("fsrm %0" ::"r"(rm)); }
static inline unsigned flags(void) {
  unsigned f;
  __asm__ volatile("frflags %0" : "=r"(f));
  __asm__ volatile("fsflags zero");
  return f;
}

#define D2(insn)                                                                         \
  static uint64_t insn##_d(uint64_t a, uint64_t b) {                                    \
    uint64_t r;                                                                          \
    __asm__ volatile("fmv.d.x ft0, %1\n fmv.d.x ft1, %2\n " #insn ".d ft2, ft0, ft1\n fmv.x.d %0, ft2" \
                     : "=r"(r) : "r"(a), "r"(b) : "ft0", "ft1", "ft2");                  \
    return r;                                                                            \
  }                                                                                      \
  static uint64_t insn##_s(uint64_t a, uint64_t b) {                                    \
    uint64_t r;                                                                          \
    __asm__ volatile("fmv.w.x ft0, %1\n fmv.w.x ft1, %2\n " #insn ".s ft2, ft0, ft1\n fmv.x.w %0, ft2" \
                     : "=r"(r) : "r"(a), "r"(b) : "ft0", "ft1", "ft2");                  \
    return (uint32_t)r;                                                                  \
  }
D2(fadd) D2(fsub) D2(fmul) D2(fdiv) D2(fmin) D2(fmax) D2(fsgnj) D2(fsgnjn) D2(fsgnjx)

#define CMP(insn)                                                                        \
  static uint64_t insn##_d(uint64_t a, uint64_t b) {                                    \
    uint64_t r;                                                                          \
    __asm__ volatile("fmv.d.x ft0, %1\n fmv.d.x ft1, %2\n " #insn ".d %0, ft0, ft1"       \
                     : "=r"(r) : "r"(a), "r"(b) : "ft0", "ft1");                         \
    return r;                                                                            \
  }                                                                                      \
  static uint64_t insn##_s(uint64_t a, uint64_t b) {                                    \
    uint64_t r;                                                                          \
    __asm__ volatile("fmv.w.x ft0, %1\n fmv.w.x ft1, %2\n " #insn ".s %0, ft0, ft1"       \
                     : "=r"(r) : "r"(a), "r"(b) : "ft0", "ft1");                         \
    return r;                                                                            \
  }
CMP(feq) CMP(flt) CMP(fle)

#define UNARY_F2X(name, insn, mv)                                                        \
  static uint64_t name(uint64_t a) {                                                     \
    uint64_t r;                                                                          \
    __asm__ volatile(mv " ft0, %1\n " insn " %0, ft0" : "=r"(r) : "r"(a) : "ft0");        \
    return r;                                                                            \
  }
UNARY_F2X(cvt_w_d, "fcvt.w.d", "fmv.d.x")
UNARY_F2X(cvt_wu_d, "fcvt.wu.d", "fmv.d.x")
UNARY_F2X(cvt_l_d, "fcvt.l.d", "fmv.d.x")
UNARY_F2X(cvt_lu_d, "fcvt.lu.d", "fmv.d.x")
UNARY_F2X(cvt_w_s, "fcvt.w.s", "fmv.w.x")
UNARY_F2X(cvt_wu_s, "fcvt.wu.s", "fmv.w.x")
UNARY_F2X(cvt_l_s, "fcvt.l.s", "fmv.w.x")
UNARY_F2X(cvt_lu_s, "fcvt.lu.s", "fmv.w.x")
UNARY_F2X(class_d, "fclass.d", "fmv.d.x")
UNARY_F2X(class_s, "fclass.s", "fmv.w.x")

#define UNARY_F2F(name, insn, mv_in, mv_out)                                            \
  static uint64_t name(uint64_t a) {                                                     \
    uint64_t r;                                                                          \
    __asm__ volatile(mv_in " ft0, %1\n " insn " ft1, ft0\n " mv_out " %0, ft1"            \
                     : "=r"(r) : "r"(a) : "ft0", "ft1");                                  \
    return r;                                                                            \
  }
UNARY_F2F(sqrt_d, "fsqrt.d", "fmv.d.x", "fmv.x.d")
UNARY_F2F(sqrt_s, "fsqrt.s", "fmv.w.x", "fmv.x.w")
UNARY_F2F(cvt_s_d, "fcvt.s.d", "fmv.d.x", "fmv.x.w")
UNARY_F2F(cvt_d_s, "fcvt.d.s", "fmv.w.x", "fmv.x.d")

#define FMA(insn)                                                                        \
  static uint64_t insn##_d(uint64_t a, uint64_t b, uint64_t c) {                        \
    uint64_t r;                                                                          \
    __asm__ volatile("fmv.d.x ft0, %1\n fmv.d.x ft1, %2\n fmv.d.x ft2, %3\n " #insn       \
                     ".d ft3, ft0, ft1, ft2\n fmv.x.d %0, ft3"                           \
                     : "=r"(r) : "r"(a), "r"(b), "r"(c) : "ft0", "ft1", "ft2", "ft3");    \
    return r;                                                                            \
  }                                                                                      \
  static uint64_t insn##_s(uint64_t a, uint64_t b, uint64_t c) {                        \
    uint64_t r;                                                                          \
    __asm__ volatile("fmv.w.x ft0, %1\n fmv.w.x ft1, %2\n fmv.w.x ft2, %3\n " #insn       \
                     ".s ft3, ft0, ft1, ft2\n fmv.x.w %0, ft3"                           \
                     : "=r"(r) : "r"(a), "r"(b), "r"(c) : "ft0", "ft1", "ft2", "ft3");    \
    return (uint32_t)r;                                                                  \
  }
FMA(fmadd) FMA(fmsub) FMA(fnmsub) FMA(fnmadd)

typedef uint64_t (*Bin)(uint64_t, uint64_t);

int main(void) {
  static const char* rm_names[] = {"rne", "rtz", "rdn", "rup", "rmm"};
  struct {
    const char* name;
    Bin d, s;
    int rounds;
  } bins[] = {{"fadd", fadd_d, fadd_s, 1},   {"fsub", fsub_d, fsub_s, 1},
              {"fmul", fmul_d, fmul_s, 1},   {"fdiv", fdiv_d, fdiv_s, 1},
              {"fmin", fmin_d, fmin_s, 0},   {"fmax", fmax_d, fmax_s, 0},
              {"fsgnj", fsgnj_d, fsgnj_s, 0}, {"fsgnjn", fsgnjn_d, fsgnjn_s, 0},
              {"fsgnjx", fsgnjx_d, fsgnjx_s, 0}, {"feq", feq_d, feq_s, 0},
              {"flt", flt_d, flt_s, 0},      {"fle", fle_d, fle_s, 0}};
  flags();
  for (unsigned b = 0; b < sizeof bins / sizeof bins[0]; ++b) {
    for (unsigned rm = 0; rm < (bins[b].rounds ? 5u : 1u); ++rm) {
      set_rm(rm);
      for (unsigned i = 0; i < ND; ++i) {
        for (unsigned j = 0; j < ND; ++j) {
          uint64_t rd = bins[b].d(kD[i], kD[j]);
          unsigned fd = flags();
          uint64_t rs = bins[b].s(kS[i], kS[j]);
          unsigned fs = flags();
          printf("%s %s %d %d: d %016llx/%02x s %08llx/%02x\n", bins[b].name, rm_names[rm], i, j,
                 (unsigned long long)rd, fd, (unsigned long long)rs, fs);
        }
      }
    }
  }
  for (unsigned rm = 0; rm < 5; ++rm) {
    set_rm(rm);
    for (unsigned i = 0; i < ND; ++i) {
      uint64_t r[14];
      unsigned f[14];
      Bin dummy = 0;
      (void)dummy;
      r[0] = cvt_w_d(kD[i]); f[0] = flags();
      r[1] = cvt_wu_d(kD[i]); f[1] = flags();
      r[2] = cvt_l_d(kD[i]); f[2] = flags();
      r[3] = cvt_lu_d(kD[i]); f[3] = flags();
      r[4] = cvt_w_s(kS[i]); f[4] = flags();
      r[5] = cvt_wu_s(kS[i]); f[5] = flags();
      r[6] = cvt_l_s(kS[i]); f[6] = flags();
      r[7] = cvt_lu_s(kS[i]); f[7] = flags();
      r[8] = sqrt_d(kD[i]); f[8] = flags();
      r[9] = (uint32_t)sqrt_s(kS[i]); f[9] = flags();
      r[10] = (uint32_t)cvt_s_d(kD[i]); f[10] = flags();
      r[11] = cvt_d_s(kS[i]); f[11] = flags();
      r[12] = class_d(kD[i]); f[12] = flags();
      r[13] = class_s(kS[i]); f[13] = flags();
      printf("unary %s %d:", rm_names[rm], i);
      for (int k = 0; k < 14; ++k) printf(" %llx/%x", (unsigned long long)r[k], f[k]);
      printf("\n");
    }
    for (unsigned i = 0; i < ND; i += 2) {
      for (unsigned j = 0; j < ND; j += 3) {
        for (unsigned k = 0; k < ND; k += 2) {
          uint64_t a = fmadd_d(kD[i], kD[j], kD[k]); unsigned fa = flags();
          uint64_t b = fmsub_d(kD[i], kD[j], kD[k]); unsigned fb = flags();
          uint64_t c = fnmsub_s(kS[i], kS[j], kS[k]); unsigned fc = flags();
          uint64_t d = fnmadd_s(kS[i], kS[j], kS[k]); unsigned fd = flags();
          uint64_t e = fnmsub_d(kD[i], kD[j], kD[k]); unsigned fe = flags();
          uint64_t f = fnmadd_d(kD[i], kD[j], kD[k]); unsigned ff = flags();
          uint64_t g = fmadd_s(kS[i], kS[j], kS[k]); unsigned fg = flags();
          uint64_t h = fmsub_s(kS[i], kS[j], kS[k]); unsigned fh = flags();
          printf("fma %s %d %d %d: %llx/%x %llx/%x %llx/%x %llx/%x %llx/%x %llx/%x %llx/%x %llx/%x\n",
                 rm_names[rm], i, j, k, (unsigned long long)a, fa, (unsigned long long)b, fb,
                 (unsigned long long)c, fc, (unsigned long long)d, fd, (unsigned long long)e, fe,
                 (unsigned long long)f, ff, (unsigned long long)g, fg, (unsigned long long)h, fh);
        }
      }
    }
  }
  set_rm(0);
  // Static rounding modes override frm.
  set_rm(3);
  uint64_t r;
  __asm__ volatile("fmv.d.x ft0, %1\n fcvt.w.d %0, ft0, rtz" : "=r"(r) : "r"(0xbff8000000000000ull) : "ft0");
  printf("static rtz: %lld flags %x\n", (long long)r, flags());
  __asm__ volatile("fmv.d.x ft0, %1\n fcvt.w.d %0, ft0, rmm" : "=r"(r) : "r"(0x4004000000000000ull) : "ft0");
  printf("static rmm: %lld flags %x\n", (long long)r, flags());
  set_rm(0);
  // NaN boxing: a double pattern read as single is the canonical NaN.
  uint64_t boxed, raw;
  __asm__ volatile("fmv.d.x ft0, %2\n fadd.s ft1, ft0, ft0\n fmv.x.d %0, ft1\n fmv.x.w %1, ft0"
                   : "=r"(boxed), "=r"(raw) : "r"(0x000000003f800000ull) : "ft0", "ft1");
  printf("nan-box: fadd.s of unboxed %016llx, fmv.x.w raw %016llx flags %x\n",
         (unsigned long long)boxed, (unsigned long long)raw, flags());
  __asm__ volatile("fmv.w.x ft0, %1\n fmv.x.d %0, ft0" : "=r"(boxed) : "r"(0x12345678u) : "ft0");
  printf("fmv.w.x boxes: %016llx\n", (unsigned long long)boxed);
  // fcsr round trip.
  unsigned fcsr;
  __asm__ volatile("fscsr %1\n frcsr %0" : "=r"(fcsr) : "r"(0xffu));
  printf("fcsr: %x frm %x\n", fcsr, ({ unsigned m; __asm__ volatile("frrm %0" : "=r"(m)); m; }));
  return 0;
}
