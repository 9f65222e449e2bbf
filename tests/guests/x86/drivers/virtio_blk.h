/* virtio-blk on top of virtio_mmio.h (virtio 1.2 section 5.2): one request queue, requests as
 * header + data + status chains, synchronous (polled) or up to `depth` in flight. Plus the test
 * pattern the host and the guest write into images. */
#pragma once

#include "virtio_mmio.h"

#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8

#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

#define BLK_MAX_DEPTH 64

struct blk_req_hdr {
  uint32_t type;
  uint32_t reserved;
  uint64_t sector;
};

struct blk {
  struct virtio_dev* dev;
  struct virtq* q;
  uint64_t capacity; /* sectors */
  bool read_only, flush;
  int depth;
  struct blk_req_hdr* hdr;  /* [depth] */
  volatile uint8_t* status; /* [depth] */
  uint32_t busy;            /* slots in flight (bit mask, depth <= 32) */
};

/* Negotiates RO, FLUSH and RING_EVENT_IDX, sets up queue 0 with room for `depth` requests,
 * DRIVER_OK. Polled. */
void blk_open(struct blk* b, struct virtio_dev* d, struct virtq* q, int depth);
/* One request, waited for; returns the status byte. T_FLUSH ignores sector/buf/len. */
uint8_t blk_rw(struct blk* b, uint32_t type, uint64_t sector, void* buf, uint32_t len);
/* GET_ID into id[21] (NUL-terminated); returns the status. */
uint8_t blk_get_id(struct blk* b, char id[21]);

/* Asynchronous: starts a request in a free slot (returns it, or -1 if all are busy); kicks. */
int blk_submit(struct blk* b, uint32_t type, uint64_t sector, void* buf, uint32_t len);
/* Starts without kicking (the caller kicks once for a batch). */
int blk_queue(struct blk* b, uint32_t type, uint64_t sector, void* buf, uint32_t len);
/* Waits for the next completion; returns its slot and status. */
int blk_reap(struct blk* b, uint8_t* status);
/* Takes a completion if one is there: its slot, or -1 without waiting. */
int blk_try_reap(struct blk* b, uint8_t* status);

/* The image pattern: 64-bit word k (byte offset 8k) of an image holds pattern_word(seed, k). */
static inline uint64_t pattern_word(uint64_t seed, uint64_t k) {
  uint64_t x = k * 0x9e3779b97f4a7c15ull + seed;
  x ^= x >> 31;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 29;
  return x;
}
/* Fills buf with the pattern of image bytes [offset, offset+len) (multiples of 8). */
void pattern_fill(void* buf, uint64_t offset, uint64_t len, uint64_t seed);
/* Offset of the first byte that differs, or ~0 when all match. */
uint64_t pattern_check(const void* buf, uint64_t offset, uint64_t len, uint64_t seed);

/* The bench (virtio_bench.c): runs on the first virtio-blk device. */
uint64_t blk_bench(struct virtio_dev* devs, struct virtq* queues, int ndevs);
