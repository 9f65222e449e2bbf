/* exits guest: from CPL3, port I/O and MMIO to tandem-testdev (echo values and access counts),
 * doorbell writes (a KVM ioeventfd in Tandem) and unclaimed ports and MMIO (all-ones).
 * With "bench" on the command line it instead times N round trips of each kind (iters=N,
 * default 100000) and prints cycles and ns per exit (tsc_khz= from the command line if given,
 * else calibrated with the PIT). */
#include "guest.h"

#define TD_PIO 0x510
#define TD_PIO_ECHO (TD_PIO + 0x0)
#define TD_PIO_COUNT (TD_PIO + 0x4)
#define TD_PIO_ID (TD_PIO + 0x8)
#define TD_MMIO 0xfe000000ull
#define TD_MMIO_ID (TD_MMIO + 0x000)
#define TD_MMIO_ECHO (TD_MMIO + 0x008)
#define TD_MMIO_COUNT (TD_MMIO + 0x010)
#define TD_MMIO_DOORBELLS (TD_MMIO + 0x018)
#define TD_MMIO_DOORBELL (TD_MMIO + 0x100)
#define TD_MAGIC 0x56454454u
#define UNCLAIMED_PORT 0x0620
#define UNCLAIMED_MMIO 0xfe800000ull

static uint64_t pattern(uint64_t i) {
  return (i + 1) * 0x9e3779b97f4a7c15ull;
}

static void check_pio(void) {
  CHECK(inl(TD_PIO_ID) == TD_MAGIC, "PIO ID reads %#x", inl(TD_PIO_ID));
  outl(TD_PIO_COUNT, 0);
  CHECK(inl(TD_PIO_COUNT) == 0, "PIO COUNT not reset");
  uint32_t accesses = 0;
  for (uint64_t i = 0; i < 64; i++) {
    uint32_t v = (uint32_t)pattern(i);
    outl(TD_PIO_ECHO, v);
    uint32_t r = inl(TD_PIO_ECHO);
    accesses += 2;
    CHECK(r == v, "PIO echo wrote %#x read %#x", v, r);
  }
  outl(TD_PIO_ECHO, 0x11223344);
  outw(TD_PIO_ECHO + 2, 0xbeef);
  outb(TD_PIO_ECHO + 1, 0x5a);
  CHECK(inl(TD_PIO_ECHO) == 0xbeef5a44, "PIO partial writes: %#x", inl(TD_PIO_ECHO));
  CHECK(inw(TD_PIO_ECHO + 2) == 0xbeef, "PIO inw");
  CHECK(inb(TD_PIO_ECHO + 1) == 0x5a, "PIO inb");
  accesses += 3 + 3; /* 3 writes, 3 reads (a failing CHECK's re-read never counts) */
  uint32_t count = inl(TD_PIO_COUNT);
  CHECK(count == accesses, "PIO COUNT %u, made %u accesses", count, accesses);
  CHECK(inl(TD_PIO + 0xc) == 0, "PIO unused register reads %#x", inl(TD_PIO + 0xc));
  printf("exits: pio ok (%u accesses counted)\n", count);
}

static void check_mmio(void) {
  CHECK(mmio_read32(TD_MMIO_ID) == TD_MAGIC, "MMIO ID reads %#x", mmio_read32(TD_MMIO_ID));
  mmio_write64(TD_MMIO_COUNT, 0);
  uint64_t accesses = 0;
  for (uint64_t i = 0; i < 64; i++) {
    uint64_t v = pattern(i);
    mmio_write64(TD_MMIO_ECHO, v);
    uint64_t r = mmio_read64(TD_MMIO_ECHO);
    accesses += 2;
    CHECK(r == v, "MMIO echo wrote %#lx read %#lx", v, r);
  }
  mmio_write64(TD_MMIO_ECHO, 0x0102030405060708ull);
  mmio_write32(TD_MMIO_ECHO + 4, 0xcafef00d);
  mmio_write16(TD_MMIO_ECHO + 2, 0xabcd);
  mmio_write8(TD_MMIO_ECHO + 0, 0xee);
  uint64_t r = mmio_read64(TD_MMIO_ECHO);
  CHECK(r == 0xcafef00dabcd07eeull, "MMIO partial writes: %#lx", r);
  CHECK(mmio_read32(TD_MMIO_ECHO + 4) == 0xcafef00d, "MMIO 32-bit read");
  CHECK(mmio_read16(TD_MMIO_ECHO + 2) == 0xabcd, "MMIO 16-bit read");
  CHECK(mmio_read8(TD_MMIO_ECHO + 1) == 0x07, "MMIO 8-bit read");
  accesses += 4 + 1 + 3;
  uint64_t count = mmio_read64(TD_MMIO_COUNT);
  CHECK(count == accesses, "MMIO COUNT %lu, made %lu accesses", count, accesses);
  CHECK(mmio_read64(TD_MMIO + 0x800) == 0, "MMIO unused register");
  printf("exits: mmio ok (%lu accesses counted)\n", count);
}

static void check_doorbell(void) {
  mmio_write64(TD_MMIO_DOORBELLS, 0);
  CHECK(mmio_read64(TD_MMIO_DOORBELLS) == 0, "DOORBELLS not reset");
  const uint32_t n = 1000;
  for (uint32_t i = 0; i < n; i++) mmio_write32(TD_MMIO_DOORBELL, i);
  uint64_t seen = mmio_read64(TD_MMIO_DOORBELLS);
  CHECK(seen == n, "%lu doorbells counted, rang %u", seen, n);
  printf("exits: doorbell ok (%lu notifications)\n", seen);
}

static void check_unclaimed(void) {
  CHECK(inb(UNCLAIMED_PORT) == 0xff, "unclaimed inb %#x", inb(UNCLAIMED_PORT));
  CHECK(inw(UNCLAIMED_PORT) == 0xffff, "unclaimed inw %#x", inw(UNCLAIMED_PORT));
  CHECK(inl(UNCLAIMED_PORT) == 0xffffffff, "unclaimed inl %#x", inl(UNCLAIMED_PORT));
  outl(UNCLAIMED_PORT, 0x12345678); /* ignored, and must not disturb anything */
  CHECK(mmio_read32(UNCLAIMED_MMIO) == 0xffffffff, "unclaimed MMIO read %#x",
        mmio_read32(UNCLAIMED_MMIO));
  mmio_write32(UNCLAIMED_MMIO, 1);
  printf("exits: unclaimed port and mmio read all-ones\n");
}

static void pio_write_loop(uint64_t n) {
  for (uint64_t i = 0; i < n; i++) outl(TD_PIO_ECHO, (uint32_t)i);
}
static void pio_read_loop(uint64_t n) {
  for (uint64_t i = 0; i < n; i++) (void)inl(TD_PIO_ECHO);
}
static void mmio_write_loop(uint64_t n) {
  for (uint64_t i = 0; i < n; i++) mmio_write32(TD_MMIO_ECHO, (uint32_t)i);
}
static void mmio_read_loop(uint64_t n) {
  for (uint64_t i = 0; i < n; i++) (void)mmio_read32(TD_MMIO_ECHO);
}
static void doorbell_loop(uint64_t n) {
  for (uint64_t i = 0; i < n; i++) mmio_write32(TD_MMIO_DOORBELL, (uint32_t)i);
}

enum { kMaxBlocks = 256 };

static void print_ns(const char* key, uint64_t cycles, uint64_t n, uint64_t khz) {
  uint64_t ns10 = cycles * 10000000 / khz / n; /* tenths of ns: cycles * 1e6 / kHz * 10 */
  printf(" %s=%lu.%lu", key, ns10 / 10, ns10 % 10);
}

/* Runs `loop` for n exits in `blocks` equal blocks, each timed alone, and prints the whole run
 * (cycles_per_exit), its fastest block (ns_per_exit) and its median block (median_ns). The
 * fastest block is what the exit path costs; a slower one had the host take the CPU away for a
 * while (this machine's steal time), which says nothing about the VMM. */
static void measure(const char* what, void (*loop)(uint64_t), uint64_t n, uint64_t blocks,
                    uint64_t khz) {
  uint64_t per = n / blocks, t[kMaxBlocks], total = 0;
  for (uint64_t b = 0; b < blocks; b++) {
    uint64_t t0 = rdtsc();
    loop(per);
    t[b] = rdtsc() - t0;
    total += t[b];
    /* insertion sort: blocks are few */
    for (uint64_t j = b; j > 0 && t[j - 1] > t[j]; j--) {
      uint64_t x = t[j];
      t[j] = t[j - 1];
      t[j - 1] = x;
    }
  }
  uint64_t c100 = total * 100 / (per * blocks);
  printf("bench %s iters=%lu blocks=%lu cycles_per_exit=%lu.%02lu", what, per * blocks, blocks,
         c100 / 100, c100 % 100);
  print_ns("ns_per_exit", t[0], per, khz);
  print_ns("median_ns", t[blocks / 2], per, khz);
  print_ns("mean_ns", total, per * blocks, khz);
  printf("\n");
}

static uint64_t bench(void* unused) {
  (void)unused;
  uint64_t n = 100000, blocks = 1, khz = tsc_khz();
  cmdline_get_u64("iters", &n);
  cmdline_get_u64("blocks", &blocks);
  if (blocks < 1) blocks = 1;
  if (blocks > kMaxBlocks) blocks = kMaxBlocks;
  if (n < blocks) n = blocks;
  n -= n % blocks;
  printf("bench tsc_khz=%lu\n", khz);
  outl(TD_PIO_COUNT, 0);
  measure("pio_write", pio_write_loop, n, blocks, khz);
  measure("pio_read", pio_read_loop, n, blocks, khz);
  CHECK(inl(TD_PIO_COUNT) == 2 * n, "PIO COUNT %u after %lu accesses", inl(TD_PIO_COUNT), 2 * n);
  mmio_write64(TD_MMIO_COUNT, 0);
  measure("mmio_write", mmio_write_loop, n, blocks, khz);
  measure("mmio_read", mmio_read_loop, n, blocks, khz);
  CHECK(mmio_read64(TD_MMIO_COUNT) == 2 * n, "MMIO COUNT");
  mmio_write64(TD_MMIO_DOORBELLS, 0);
  measure("ioeventfd", doorbell_loop, n, blocks, khz);
  CHECK(mmio_read64(TD_MMIO_DOORBELLS) == n, "DOORBELLS %lu after %lu",
        mmio_read64(TD_MMIO_DOORBELLS), n);
  printf("bench done\n");
  return EXIT_OK;
}

static uint64_t check_all(void* unused) {
  (void)unused;
  CHECK(current_cpl() == 3, "not at CPL3");
  check_pio();
  check_mmio();
  check_doorbell();
  check_unclaimed();
  printf("exits: all checks passed\n");
  return EXIT_OK;
}

uint32_t guest_main(void) {
  bool want_bench = cmdline_has("bench");
  if (want_bench) tsc_khz(); /* calibrate at CPL0 before timing at CPL3 */
  return (uint32_t)run_user(want_bench ? bench : check_all, NULL, USER_INTERRUPTS_OFF);
}
