// cpubench: the CPU-bound guest program of bench/boot-riscv, built with
// riscv64-linux-gnu-gcc -O2 -static and put into the benchmark's initramfs. Integer work with a
// data-dependent branch and table loads and stores (xorshift64 into a 64 KiB table), about 20
// instructions per step, 1M steps per unit of scale. Prints a checksum that must be the same
// under every emulator.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint32_t table[16384];

int main(int argc, char** argv) {
  long scale = argc > 1 ? atol(argv[1]) : 1;
  if (scale <= 0) {
    fprintf(stderr, "usage: cpubench [scale > 0]\n");
    return 2;
  }
  uint64_t x = 88172645463325252ull, sum = 0;
  for (long r = 0; r < scale; r++) {
    for (uint32_t i = 0; i < 1000000; i++) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      uint32_t k = (uint32_t)x & 16383;
      table[k] += (uint32_t)(x >> 32);
      sum += table[(k * 7) & 16383] ^ i;
      sum = (sum & 1) ? (sum >> 1) ^ 0xedb88320u : sum >> 1;
    }
  }
  printf("cpubench: scale %ld checksum %016llx\n", scale, (unsigned long long)sum);
  return 0;
}
