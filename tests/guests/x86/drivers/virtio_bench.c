/* The virtio-blk benchmark (bench/blk drives it and compares with the same I/O from the host):
 * on the first virtio-blk device, polled, at CPL3:
 *   seq_read / seq_write   1 MiB requests over the first bench_bytes of the disk (wrapping),
 *                          queue depth 1 and 32
 *   rand_read              4 KiB requests at random 4 KiB-aligned offsets, depth 1 and 32
 * Options: bench_bytes=SIZE (per sequential test, default 256M), bench_ios=N (random reads per
 * test, default 20000), bench_qd=N (the deep queue depth, default 32), bench_only=NAME (run that
 * test only, e.g. for profiling one of them), bench_depth=N (run that depth only). Prints one line
 * per test:
 *   bench blk NAME bs=B qd=Q ios=N bytes=B ns=T
 * and "bench done". */
#include "virtio_blk.h"

static uint64_t ns_since(uint64_t t0) {
  return (rdtsc() - t0) * 1000000 / tsc_khz();
}

static uint64_t xorshift(uint64_t* s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

struct run {
  const char* name;
  uint32_t type;
  uint32_t bs;
  bool random;
  uint64_t ios;
};

static void run_one(struct blk* b, uint8_t* bufs, int qd, const struct run* r, uint64_t span) {
  const uint64_t sectors_per_io = r->bs / 512;
  const uint64_t slots_in_span = span / r->bs;
  uint64_t seed = 0x1234567 + (uint64_t)qd, next = 0, issued = 0, done = 0;
  uint64_t kicks0 = b->q->kicks, irqs0 = b->dev->irqs;
  uint64_t t0 = rdtsc();
  while (done < r->ios) {
    /* Fill the queue, one kick for the batch. */
    int added = 0;
    while (issued < r->ios && (int)(issued - done) < qd) {
      uint64_t slot = r->random ? xorshift(&seed) % slots_in_span : next++ % slots_in_span;
      /* Each in-flight request gets its own buffer: the slot blk_queue picks. */
      int free_slot = __builtin_ctz(~b->busy);
      int s =
          blk_queue(b, r->type, slot * sectors_per_io, bufs + (uint64_t)free_slot * r->bs, r->bs);
      CHECK(s == free_slot, "slot %d, expected %d", s, free_slot);
      issued++;
      added++;
    }
    if (added) virtq_kick(b->q);
    /* Wait for one completion, then take every other one already there before refilling, as
     * Linux's driver empties the used ring per interrupt: the device then sees the refills
     * together and can hand them to the host in one submission. */
    uint8_t status;
    blk_reap(b, &status);
    do {
      CHECK(status == VIRTIO_BLK_S_OK, "%s: status %u", r->name, status);
      done++;
    } while (blk_try_reap(b, &status) >= 0);
  }
  uint64_t ns = ns_since(t0);
  printf("bench blk %s bs=%u qd=%d ios=%lu bytes=%lu ns=%lu kicks=%lu irqs=%lu event_idx=%d\n",
         r->name, r->bs, qd, r->ios, r->ios * r->bs, ns, b->q->kicks - kicks0,
         b->dev->irqs - irqs0, b->q->event_idx);
}

uint64_t blk_bench(struct virtio_dev* devs, struct virtq* queues, int ndevs) {
  int idx = -1;
  for (int i = 0; i < ndevs && idx < 0; i++) {
    if (devs[i].device_id == VIRTIO_ID_BLOCK) idx = i;
  }
  CHECK(idx >= 0, "bench: no virtio-blk device");
  uint64_t bytes = 256ull << 20, ios = 20000, deep = 32;
  cmdline_get_u64("bench_bytes", &bytes);
  cmdline_get_u64("bench_ios", &ios);
  cmdline_get_u64("bench_qd", &deep);
  CHECK(deep >= 1 && deep <= 32, "bench_qd=%lu (1..32)", deep);
  struct blk b;
  blk_open(&b, &devs[idx], &queues[idx], (int)deep);
  CHECK(!b.read_only, "bench: the disk is read-only");
  uint64_t span = b.capacity * 512;
  if (bytes > span) bytes = span;
  CHECK(span >= (1 << 20), "bench: disk smaller than 1 MiB");
  uint8_t* bufs = dma_alloc(deep << 20, 4096);
  printf("bench tsc_khz=%lu capacity=%lu\n", tsc_khz(), b.capacity);
  const uint64_t seq_ios = bytes >> 20;
  const struct run runs[] = {
      {"seq_write", VIRTIO_BLK_T_OUT, 1 << 20, false, seq_ios},
      {"seq_read", VIRTIO_BLK_T_IN, 1 << 20, false, seq_ios},
      {"rand_read", VIRTIO_BLK_T_IN, 4096, true, ios},
  };
  const int depths[] = {1, (int)deep};
  char only[32] = "";
  uint64_t only_depth = 0;
  cmdline_get("bench_only", only, sizeof only);
  cmdline_get_u64("bench_depth", &only_depth);
  for (unsigned r = 0; r < sizeof runs / sizeof runs[0]; r++) {
    if (only[0] && strcmp(only, runs[r].name) != 0) continue;
    for (unsigned d = 0; d < 2; d++) {
      if (only_depth && (uint64_t)depths[d] != only_depth) continue;
      /* Random reads cover the whole disk; sequential ones the first `bytes`. */
      run_one(&b, bufs, depths[d], &runs[r], runs[r].random ? span : (seq_ios << 20));
    }
  }
  if (b.flush) {
    uint8_t st = blk_rw(&b, VIRTIO_BLK_T_FLUSH, 0, NULL, 0);
    CHECK(st == VIRTIO_BLK_S_OK, "flush: status %u", st);
  }
  printf("bench done\n");
  return EXIT_OK;
}
