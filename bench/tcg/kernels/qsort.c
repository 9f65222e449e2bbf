// libc qsort of 400 K records through a comparison callback (indirect calls and returns),
// memcpy of the records between rounds, then a checksum pass.
#include <string.h>

#include "bench_common.h"

typedef struct {
  uint32_t key;
  uint32_t tag;
  uint64_t payload;
} Rec;

enum { kN = 400 * 1000 };
static Rec a[kN], b[kN];

static int cmp(const void* x, const void* y) {
  const Rec* p = x;
  const Rec* q = y;
  if (p->key != q->key) return p->key < q->key ? -1 : 1;
  return p->tag < q->tag ? -1 : p->tag > q->tag;
}

int main(int argc, char** argv) {
  const int rounds = 2 * bench_scale(argc, argv);
  uint64_t s = 99;
  for (uint32_t i = 0; i < kN; ++i) {
    a[i].key = (uint32_t)bench_rand(&s) % 100000;
    a[i].tag = i;
    a[i].payload = bench_rand(&s);
  }
  uint64_t sum = 0;
  for (int r = 0; r < rounds; ++r) {
    memcpy(b, a, sizeof a);
    for (uint32_t i = 0; i < kN; i += 7) b[i].key ^= (uint32_t)r * 2654435761u % 100000;
    qsort(b, kN, sizeof(Rec), cmp);
    for (uint32_t i = 0; i < kN; i += 97) sum = sum * 131 + b[i].key + b[i].tag + (b[i].payload >> 40);
  }
  bench_result("qsort", sum);
  return 0;
}
