// Table-driven CRC-32 (IEEE) over a 256 KiB buffer, many passes: byte loads, table lookups,
// shifts and xors in a tight loop.
#include "bench_common.h"

static uint32_t table[256];
static uint8_t buf[256 * 1024];

int main(int argc, char** argv) {
  const int passes = 400 * bench_scale(argc, argv);
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  uint64_t s = 12345;
  for (size_t i = 0; i < sizeof buf; ++i) buf[i] = (uint8_t)bench_rand(&s);
  uint64_t sum = 0;
  for (int p = 0; p < passes; ++p) {
    uint32_t crc = ~(uint32_t)p;
    for (size_t i = 0; i < sizeof buf; ++i) crc = table[(crc ^ buf[i]) & 0xff] ^ (crc >> 8);
    sum = sum * 31 + ~crc;
    buf[p % sizeof buf] ^= (uint8_t)crc;
  }
  bench_result("crc32", sum);
  return 0;
}
