// A extension: AMOs on words and doublewords (sign extension of .w results, signed vs unsigned
// min/max) and LR/SC.
#include <stdint.h>
#include <stdio.h>

#define AMO(insn, ptr, val)                                                          \
  ({                                                                                 \
    uint64_t old_;                                                                   \
    __asm__ volatile(insn " %0, %2, (%1)" : "=r"(old_) : "r"(ptr), "r"(val) : "memory"); \
    old_;                                                                            \
  })

int main(void) {
  static uint32_t w;
  static uint64_t d;
  const uint64_t vals[] = {0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0xffffffff80000000ull,
                           0x8000000000000000ull, 0x123456789ull};
  const char* names[] = {"swap", "add", "xor", "and", "or", "min", "max", "minu", "maxu"};
  for (unsigned i = 0; i < 8; ++i) {
    for (unsigned j = 0; j < 8; ++j) {
      for (int op = 0; op < 9; ++op) {
        uint64_t ow = 0, od = 0;
        w = (uint32_t)vals[i];
        d = vals[i];
        switch (op) {
          case 0: ow = AMO("amoswap.w", &w, vals[j]); od = AMO("amoswap.d", &d, vals[j]); break;
          case 1: ow = AMO("amoadd.w", &w, vals[j]); od = AMO("amoadd.d", &d, vals[j]); break;
          case 2: ow = AMO("amoxor.w", &w, vals[j]); od = AMO("amoxor.d", &d, vals[j]); break;
          case 3: ow = AMO("amoand.w", &w, vals[j]); od = AMO("amoand.d", &d, vals[j]); break;
          case 4: ow = AMO("amoor.w.aq", &w, vals[j]); od = AMO("amoor.d.rl", &d, vals[j]); break;
          case 5: ow = AMO("amomin.w", &w, vals[j]); od = AMO("amomin.d", &d, vals[j]); break;
          case 6: ow = AMO("amomax.w", &w, vals[j]); od = AMO("amomax.d", &d, vals[j]); break;
          case 7: ow = AMO("amominu.w", &w, vals[j]); od = AMO("amominu.d", &d, vals[j]); break;
          case 8: ow = AMO("amomaxu.w.aqrl", &w, vals[j]); od = AMO("amomaxu.d", &d, vals[j]); break;
        }
        printf("%s %llx %llx: w old %llx new %x | d old %llx new %llx\n", names[op],
               (unsigned long long)vals[i], (unsigned long long)vals[j], (unsigned long long)ow,
               w, (unsigned long long)od, (unsigned long long)d);
      }
    }
  }
  // LR/SC: a successful pair, then an SC without a reservation.
  uint64_t loaded, fail1, fail2;
  d = 5;
  __asm__ volatile(
      "lr.d %0, (%3)\n"
      "addi %0, %0, 1\n"
      "sc.d %1, %0, (%3)\n"
      "sc.d %2, %0, (%3)\n"
      : "=&r"(loaded), "=&r"(fail1), "=&r"(fail2)
      : "r"(&d)
      : "memory");
  printf("lr/sc: value %llu first sc %llu second sc %llu mem %llu\n",
         (unsigned long long)loaded, (unsigned long long)fail1, (unsigned long long)fail2,
         (unsigned long long)d);
  w = 0xfffffff0;
  uint64_t lw;
  __asm__ volatile("lr.w %0, (%1)" : "=r"(lw) : "r"(&w) : "memory");
  printf("lr.w sign-extends: %llx\n", (unsigned long long)lw);
  return 0;
}
