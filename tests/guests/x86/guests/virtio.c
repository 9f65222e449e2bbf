/* virtio guest: finds the virtio-mmio devices through the DSDT and drives each with the driver in
 * drivers/virtio_mmio.c, at CPL3 (interrupt handlers at CPL0).
 *   virtio-rng: entropy by polling (two 4 KiB reads that differ and look random), by interrupt
 *     (a level-triggered IOAPIC pin, as the DSDT says), and level semantics: an interrupt the
 *     handler does not acknowledge in InterruptStatus comes back after the EOI; an acknowledged
 *     one does not.
 *   virtio-blk: capacity and GET_ID; reads the image and checks the host's pattern (host -> guest);
 *     on a writable disk writes its own pattern (an 8-sector request and a 1 MiB one), flushes and
 *     reads it back (the host checks the file afterwards: guest -> host); on a read-only disk
 *     (VIRTIO_BLK_F_RO) checks that a write fails with IOERR and changes nothing.
 * Command line: blk_seed=N (host pattern, default 1), blk_wseed=N (guest pattern, default 2),
 * blk_wstart=SECTOR (default 16), blk_check=SECTORS (how much to verify, default all),
 * expect_devices=N. With `bench` it runs blk_bench() instead of the checks (virtio_bench.c). */
#include "guest.h"
#include "virtio_blk.h"
#include "virtio_mmio.h"

#define VIRTIO_VECTOR_BASE 0x30

static struct virtio_dev devs[VIRTIO_MAX_DEVICES];
static int ndevs;
static struct virtq queues[VIRTIO_MAX_DEVICES];

/* ---- virtio-rng ---- */

static int distinct_bytes(const uint8_t* p, size_t n) {
  static uint8_t seen[256];
  memset(seen, 0, sizeof seen);
  int distinct = 0;
  for (size_t i = 0; i < n; i++) {
    if (!seen[p[i]]) distinct++;
    seen[p[i]] = 1;
  }
  return distinct;
}

static void rng_checks(int idx) {
  struct virtio_dev* d = &devs[idx];
  struct virtq* q = &queues[idx];
  CHECK(virtio_negotiate(d, 0), "virtio-rng refused VERSION_1 alone");
  virtq_init(d, q, 0, 0);
  virtio_driver_ok(d);
  uint64_t mark = dma_mark();
  uint8_t* a = dma_alloc(4096, 4096);
  uint8_t* b = dma_alloc(4096, 4096);

  /* Polling: no interrupt wanted. */
  virtq_set_interrupts(q, false);
  uint32_t irqs_before = d->irqs;
  struct vbuf ba = {(uint64_t)a, 4096, true}, bb = {(uint64_t)b, 4096, true};
  CHECK(virtq_add(q, &ba, 1, 1) && virtq_add(q, &bb, 1, 2), "queue full");
  virtq_kick(q);
  uint64_t got = 0;
  for (int i = 0; i < 2; i++) {
    uint64_t token;
    uint32_t len;
    virtq_wait(q, &token, &len, 5000);
    CHECK(len == 4096, "rng filled %u bytes of 4096", len);
    got |= token;
  }
  CHECK(got == 3, "tokens %#lx", got);
  CHECK(memcmp(a, b, 4096) != 0, "two entropy reads are identical");
  int da = distinct_bytes(a, 4096), db = distinct_bytes(b, 4096);
  CHECK(da > 200 && db > 200, "entropy looks poor: %d and %d distinct byte values", da, db);
  CHECK(d->irqs == irqs_before, "interrupt while NO_INTERRUPT was set");
  printf("virtio-rng%d: polled 2 x 4096 bytes, %d/%d distinct byte values, reads differ\n", idx, da,
         db);

  /* Interrupt-driven: wait for the handler to see (and acknowledge) a used-buffer interrupt. */
  virtq_set_interrupts(q, true);
  uint8_t first[64];
  memcpy(first, a, 64);
  uint32_t acked = d->acked;
  ba.len = 64;
  CHECK(virtq_add(q, &ba, 1, 3), "queue full");
  virtq_kick(q);
  wait_at_least(&d->acked, acked + 1, 5000, "an interrupt");
  uint64_t token;
  uint32_t len;
  CHECK(virtq_get(q, &token, &len), "interrupt without a used buffer");
  CHECK(token == 3 && len == 64, "token %lu len %u", token, len);
  CHECK(d->isr_seen & 1, "InterruptStatus never showed a used buffer (%#x)", d->isr_seen);
  CHECK(memcmp(first, a, 64) != 0, "entropy repeated");
  CHECK(virtio_read(d, VIRTIO_MMIO_INTERRUPT_STATUS) == 0, "InterruptStatus not acked");
  printf("virtio-rng%d: interrupt on GSI %u (%s, active %s) delivered 64 bytes\n", idx, d->gsi,
         d->irq_level ? "level" : "edge", d->irq_active_low ? "low" : "high");

  /* Level semantics: the handler leaves the next two interrupts unacknowledged; the line must
   * stay asserted, so they are delivered again, until the third is acknowledged. After that
   * nothing with InterruptStatus set may arrive. An edge-triggered line (a plain irqfd) would
   * stop after the first. */
  acked = d->acked;
  d->unacked = 0;
  d->hold_ack = 2;
  CHECK(virtq_add(q, &ba, 1, 4), "queue full");
  virtq_kick(q);
  wait_at_least(&d->acked, acked + 1, 5000, "re-delivery of an unacknowledged interrupt");
  CHECK(d->unacked == 2, "%u unacknowledged interrupts", d->unacked);
  uint32_t irqs_at_ack = d->irqs;
  udelay(20000);
  CHECK(d->acked == acked + 1 && d->unacked == 2,
        "interrupts with InterruptStatus set after the "
        "acknowledgement (acked %u, unacked %u)",
        d->acked - acked, d->unacked);
  /* At most one delivery may already have been under way when the handler acknowledged: this
   * host's KVM (kvm-pvm) completes the EOI when it injects the interrupt, so the irqfd's
   * resample runs while the line is still high and one more interrupt follows, which finds
   * InterruptStatus 0. On other KVM hosts the EOI comes from the handler and none follows. */
  CHECK(d->irqs - irqs_at_ack <= 1, "%u interrupts after the acknowledgement",
        d->irqs - irqs_at_ack);
  CHECK(virtio_read(d, VIRTIO_MMIO_INTERRUPT_STATUS) == 0, "InterruptStatus %#x",
        virtio_read(d, VIRTIO_MMIO_INTERRUPT_STATUS));
  CHECK(virtq_get(q, &token, &len) && token == 4, "used buffer missing");
  printf(
      "virtio-rng%d: level-triggered: re-delivered while pending (%u), quiet once acked "
      "(%u spurious)\n",
      idx, d->unacked, d->spurious);
  virtio_reset(d);
  dma_release(mark);
}

/* ---- virtio-blk ---- */

static void blk_checks(int idx) {
  struct virtio_dev* d = &devs[idx];
  struct blk blk;
  blk_open(&blk, d, &queues[idx], 4);
  uint64_t seed = 1, wseed = 2, wstart = 16, check = blk.capacity;
  cmdline_get_u64("blk_seed", &seed);
  cmdline_get_u64("blk_wseed", &wseed);
  cmdline_get_u64("blk_wstart", &wstart);
  cmdline_get_u64("blk_check", &check);
  if (check > blk.capacity) check = blk.capacity;
  char id[21];
  uint8_t st = blk_get_id(&blk, id);
  printf("virtio-blk%d: capacity %lu sectors, %s, id '%s' (status %u)\n", idx, blk.capacity,
         blk.read_only ? "read-only" : "read-write", id, st);

  uint64_t mark = dma_mark();
  const uint32_t chunk = 128; /* sectors per request: 64 KiB */
  uint8_t* buf = dma_alloc(1 << 20, 4096);
  /* Host -> guest: the image holds the host's pattern. */
  for (uint64_t s = 0; s < check; s += chunk) {
    uint32_t n = (uint32_t)(check - s < chunk ? check - s : chunk);
    st = blk_rw(&blk, VIRTIO_BLK_T_IN, s, buf, n * 512);
    CHECK(st == VIRTIO_BLK_S_OK, "read of sector %lu: status %u", s, st);
    for (uint32_t k = 0; k < n; k++) {
      uint64_t sector = s + k;
      const uint8_t* p = buf + 512 * k;
      if (pattern_check(p, sector * 512, 512, seed) == ~0ull) continue;
      /* The guest's own area may hold its pattern from an earlier run on the same image. */
      bool own = !blk.read_only && sector >= wstart && sector < wstart + 8 + 2048;
      CHECK(own && pattern_check(p, sector * 512, 512, wseed) == ~0ull,
            "sector %lu: neither the host's pattern nor ours", sector);
    }
  }
  printf("virtio-blk%d: read %lu sectors, host pattern ok\n", idx, check);

  if (blk.read_only) {
    pattern_fill(buf, wstart * 512, 512, wseed);
    st = blk_rw(&blk, VIRTIO_BLK_T_OUT, wstart, buf, 512);
    CHECK(st == VIRTIO_BLK_S_IOERR, "write to a read-only disk: status %u", st);
    st = blk_rw(&blk, VIRTIO_BLK_T_IN, wstart, buf, 512);
    CHECK(st == VIRTIO_BLK_S_OK, "read: status %u", st);
    CHECK(pattern_check(buf, wstart * 512, 512, seed) == ~0ull, "refused write changed the disk");
    printf("virtio-blk%d: write refused (IOERR), contents unchanged\n", idx);
  } else {
    CHECK(wstart + 8 + 2048 <= blk.capacity, "disk too small for the write test");
    pattern_fill(buf, wstart * 512, 8 * 512, wseed);
    st = blk_rw(&blk, VIRTIO_BLK_T_OUT, wstart, buf, 8 * 512);
    CHECK(st == VIRTIO_BLK_S_OK, "8-sector write: status %u", st);
    pattern_fill(buf, (wstart + 8) * 512, 1 << 20, wseed);
    st = blk_rw(&blk, VIRTIO_BLK_T_OUT, wstart + 8, buf, 1 << 20);
    CHECK(st == VIRTIO_BLK_S_OK, "1 MiB write: status %u", st);
    if (blk.flush) {
      st = blk_rw(&blk, VIRTIO_BLK_T_FLUSH, 0, NULL, 0);
      CHECK(st == VIRTIO_BLK_S_OK, "flush: status %u", st);
    }
    memset(buf, 0, 1 << 20);
    st = blk_rw(&blk, VIRTIO_BLK_T_IN, wstart, buf, 8 * 512);
    CHECK(st == VIRTIO_BLK_S_OK, "read back: status %u", st);
    CHECK(pattern_check(buf, wstart * 512, 8 * 512, wseed) == ~0ull, "read back wrong");
    st = blk_rw(&blk, VIRTIO_BLK_T_IN, wstart + 8, buf, 1 << 20);
    CHECK(st == VIRTIO_BLK_S_OK, "read back: status %u", st);
    CHECK(pattern_check(buf, (wstart + 8) * 512, 1 << 20, wseed) == ~0ull, "1 MiB read back wrong");
    /* Past the end: an error, not a crash or a short read. */
    st = blk_rw(&blk, VIRTIO_BLK_T_IN, blk.capacity - 1, buf, 1024);
    CHECK(st == VIRTIO_BLK_S_IOERR, "read past the end: status %u", st);
    printf("virtio-blk%d: wrote %u sectors at %lu, read back ok%s\n", idx, 8 + 2048, wstart,
           blk.flush ? ", flushed" : "");
  }
  virtio_reset(d);
  dma_release(mark);
}

/* ---- main ---- */

static uint64_t discover(void* unused) {
  (void)unused;
  CHECK(current_cpl() == 3, "not at CPL3");
  ndevs = virtio_find_devices(devs, VIRTIO_MAX_DEVICES);
  for (int i = 0; i < ndevs; i++) {
    printf("virtio: device %d: id %u at %#lx size %#lx gsi %u\n", i, devs[i].device_id,
           devs[i].base, devs[i].size, devs[i].gsi);
  }
  return 0;
}

static uint64_t run_checks(void* unused) {
  (void)unused;
  CHECK(current_cpl() == 3, "not at CPL3");
  if (cmdline_has("bench")) return blk_bench(devs, queues, ndevs);
  int rng = 0, blk = 0;
  for (int i = 0; i < ndevs; i++) {
    if (devs[i].device_id == VIRTIO_ID_ENTROPY) {
      rng_checks(i);
      rng++;
    } else if (devs[i].device_id == VIRTIO_ID_BLOCK) {
      blk_checks(i);
      blk++;
    }
  }
  printf("virtio: all checks passed (%d rng, %d blk)\n", rng, blk);
  return EXIT_OK;
}

static void choose_dma_region(void) {
  /* Above the image and its stacks: from 32 MiB to the end of that RAM range (at most 1 GiB). */
  const uint64_t base = 32ull << 20;
  for (int i = 0; i < boot.n_e820; i++) {
    const struct e820_entry* e = &boot.e820[i];
    if (e->type != E820_RAM || e->addr > base || e->addr + e->size <= base + (16 << 20)) continue;
    uint64_t size = e->addr + e->size - base;
    if (size > (1ull << 30)) size = 1ull << 30;
    dma_init(base, size);
    return;
  }
  panic("no RAM at 32 MiB for DMA buffers (give the guest more memory)");
}

uint32_t guest_main(void) {
  tsc_khz(); /* calibrate at CPL0 */
  choose_dma_region();
  pic_disable();
  lapic_enable();
  uint64_t r = run_user(discover, NULL, USER_INTERRUPTS_OFF);
  if (r) return (uint32_t)r;
  uint64_t expect;
  if (cmdline_get_u64("expect_devices", &expect)) {
    CHECK((uint64_t)ndevs == expect, "%d virtio devices in the DSDT, expected %lu", ndevs, expect);
  }
  for (int i = 0; i < ndevs; i++) virtio_enable_irq(&devs[i], VIRTIO_VECTOR_BASE + i);
  return (uint32_t)run_user(run_checks, NULL, USER_INTERRUPTS_ON);
}
