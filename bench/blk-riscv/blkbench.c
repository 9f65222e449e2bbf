// blkbench: the guest program of bench/blk-riscv, built with riscv64-linux-gnu-gcc -O2 -static
// -pthread and put into the benchmark's initramfs. On a block device (the benchmark's fresh
// raw image, /dev/vda), all with O_DIRECT so that the guest's page cache is not measured:
//   seq-write   sequential 1 MiB writes over the first SIZE MiB, then fdatasync (timed together)
//   seq-read    sequential 1 MiB reads of the same range
//   rand-qd1    COUNT 4 KiB reads at random 4 KiB-aligned offsets in that range, one at a time
//   rand-thr    COUNT 4 KiB random reads spread over THREADS threads, each doing pread one at a
//               time: THREADS requests in flight (there is no libaio/io_uring in the guest)
// Every 4 KiB block written starts with a stamp (a magic mixed with a per-run seed, and the
// block's number) and the rest is a filler pattern; every read checks the stamps of what it read
// (and the first MiB byte for byte), so a device that loses, misplaces or invents data fails.
// Times come from clock_gettime(CLOCK_MONOTONIC) in the guest. Prints one line per phase:
//   blkbench: result NAME VALUE UNIT SECONDS
// (MB/s are 10^6 bytes per second), then "blkbench: verify ok", and exits 0; any error or
// mismatch prints "blkbench: ERROR ..." and exits 1.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { kBig = 1 << 20, kSmall = 4096 };
static const uint64_t kMagic = 0x54616e64656d426cull;  // "TandemBl"

static int fd;
static uint64_t seed;
static uint64_t nblocks;  // 4 KiB blocks in the tested range

static void die(const char* what) {
  printf("blkbench: ERROR %s: %s\n", what, errno ? strerror(errno) : "failed");
  fflush(stdout);
  exit(1);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void* aligned(size_t size) {
  void* p = NULL;
  if (posix_memalign(&p, kSmall, size) != 0) die("posix_memalign");
  return p;
}

// The expected contents of 4 KiB block `block`, except the stamp: a filler that depends on the
// byte's position in the block and on the seed.
static void fill(uint8_t* p, size_t size) {
  for (size_t i = 0; i < size; i++) p[i] = (uint8_t)((i % kSmall) * 131 + (seed & 0xff) + 1);
}

static void stamp(uint8_t* block, uint64_t number) {
  uint64_t words[2] = {kMagic ^ seed, number};
  memcpy(block, words, sizeof words);
}

static int stamp_ok(const uint8_t* block, uint64_t number) {
  uint64_t words[2];
  memcpy(words, block, sizeof words);
  return words[0] == (kMagic ^ seed) && words[1] == number;
}

static void bad_block(uint64_t number, const uint8_t* got) {
  uint64_t words[2];
  memcpy(words, got, sizeof words);
  printf("blkbench: ERROR block %llu (offset %llu) reads back as %016llx %016llx, expected "
         "%016llx %016llx\n",
         (unsigned long long)number, (unsigned long long)number * kSmall,
         (unsigned long long)words[0], (unsigned long long)words[1],
         (unsigned long long)(kMagic ^ seed), (unsigned long long)number);
  fflush(stdout);
  exit(1);
}

static void result(const char* name, double value, const char* unit, double seconds) {
  if (!(value > 0)) {
    printf("blkbench: ERROR %s measured %g %s\n", name, value, unit);
    exit(1);
  }
  printf("blkbench: result %s %.2f %s %.3f\n", name, value, unit, seconds);
  fflush(stdout);
}

static uint64_t xorshift(uint64_t* x) {
  *x ^= *x << 13;
  *x ^= *x >> 7;
  *x ^= *x << 17;
  return *x;
}

// `count` random 4 KiB reads; returns 0 or the number + 1 of a block that read back wrong.
static uint64_t random_reads(uint64_t rng, long count, uint8_t* buf) {
  for (long i = 0; i < count; i++) {
    uint64_t block = xorshift(&rng) % nblocks;
    ssize_t n = pread(fd, buf, kSmall, (off_t)(block * kSmall));
    if (n != kSmall) {
      if (n >= 0) errno = 0;
      die("random pread");
    }
    if (!stamp_ok(buf, block)) return block + 1;
  }
  return 0;
}

struct Worker {
  pthread_t thread;
  pthread_barrier_t* start;
  uint64_t rng;
  long count;
  uint64_t bad;
  uint8_t* buf;
};

static void* worker(void* arg) {
  struct Worker* w = arg;
  pthread_barrier_wait(w->start);
  w->bad = random_reads(w->rng, w->count, w->buf);
  return NULL;
}

int main(int argc, char** argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: blkbench DEVICE SIZE_MIB COUNT THREADS\n");
    return 2;
  }
  const char* dev = argv[1];
  long mib = atol(argv[2]), count = atol(argv[3]), threads = atol(argv[4]);
  if (mib < 1 || count < 1 || threads < 1 || threads > 256) {
    fprintf(stderr, "blkbench: SIZE_MIB, COUNT want > 0, THREADS 1..256\n");
    return 2;
  }
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  seed = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^ (uint64_t)getpid() << 20;
  nblocks = (uint64_t)mib * (kBig / kSmall);

  fd = open(dev, O_RDWR | O_DIRECT);
  if (fd < 0) die(dev);
  off_t dev_size = lseek(fd, 0, SEEK_END);
  if (dev_size < (off_t)mib * kBig) {
    printf("blkbench: ERROR %s has %lld bytes, fewer than %ld MiB\n", dev, (long long)dev_size,
           mib);
    return 1;
  }
  printf("blkbench: %s, %lld MiB; %ld MiB sequential, %ld random reads, %ld threads\n", dev,
         (long long)(dev_size >> 20), mib, count, threads);
  fflush(stdout);

  uint8_t* big = aligned(kBig);
  uint8_t* expected = aligned(kBig);
  fill(expected, kBig);

  // 1. Sequential writes, then fdatasync.
  fill(big, kBig);
  double t0 = now();
  for (long m = 0; m < mib; m++) {
    for (uint64_t b = 0; b < kBig / kSmall; b++) stamp(big + b * kSmall, m * (kBig / kSmall) + b);
    if (pwrite(fd, big, kBig, (off_t)m * kBig) != kBig) die("sequential pwrite");
  }
  if (fdatasync(fd) != 0) die("fdatasync");
  double t = now() - t0;
  result("seq-write", (double)mib * kBig / t / 1e6, "MB/s", t);

  // 2. Sequential reads, every stamp checked; the first MiB byte for byte.
  t0 = now();
  for (long m = 0; m < mib; m++) {
    memset(big, 0, 16);  // a read that leaves the buffer alone must not pass
    if (pread(fd, big, kBig, (off_t)m * kBig) != kBig) die("sequential pread");
    for (uint64_t b = 0; b < kBig / kSmall; b++) {
      uint64_t number = m * (kBig / kSmall) + b;
      if (!stamp_ok(big + b * kSmall, number)) bad_block(number, big + b * kSmall);
    }
    if (m == 0) {
      for (uint64_t b = 0; b < kBig / kSmall; b++) stamp(expected + b * kSmall, b);
      if (memcmp(big, expected, kBig) != 0) {
        errno = 0;
        die("the first MiB does not read back as written");
      }
    }
  }
  t = now() - t0;
  result("seq-read", (double)mib * kBig / t / 1e6, "MB/s", t);

  // 3. Random 4 KiB reads, one at a time.
  uint8_t* small = aligned(kSmall);
  t0 = now();
  uint64_t bad = random_reads(seed | 1, count, small);
  t = now() - t0;
  if (bad) bad_block(bad - 1, small);
  result("rand-qd1", count / t, "IOPS", t);

  // 4. The same spread over `threads` threads.
  struct Worker* w = calloc((size_t)threads, sizeof *w);
  pthread_barrier_t start;
  if (!w || pthread_barrier_init(&start, NULL, (unsigned)threads + 1) != 0) die("threads");
  for (long i = 0; i < threads; i++) {
    w[i].start = &start;
    w[i].rng = (seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)(i + 2))) | 1;
    w[i].count = count / threads + (i < count % threads);
    w[i].buf = aligned(kSmall);
    if (pthread_create(&w[i].thread, NULL, worker, &w[i]) != 0) die("pthread_create");
  }
  pthread_barrier_wait(&start);
  t0 = now();
  for (long i = 0; i < threads; i++) pthread_join(w[i].thread, NULL);
  t = now() - t0;
  for (long i = 0; i < threads; i++) {
    if (w[i].bad) bad_block(w[i].bad - 1, w[i].buf);
  }
  result("rand-thr", count / t, "IOPS", t);

  printf("blkbench: verify ok\n");
  close(fd);
  return 0;
}
