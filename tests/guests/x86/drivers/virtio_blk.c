/* See virtio_blk.h. */
#include "virtio_blk.h"

void blk_open(struct blk* b, struct virtio_dev* d, struct virtq* q, int depth) {
  CHECK(depth >= 1 && depth <= 32, "depth %d", depth);
  memset(b, 0, sizeof *b);
  b->dev = d;
  b->q = q;
  b->depth = depth;
  /* EVENT_IDX as Linux's driver takes it: with the device polling, kicks stop altogether. */
  CHECK(virtio_negotiate(d, (1ull << VIRTIO_BLK_F_RO) | (1ull << VIRTIO_BLK_F_FLUSH) |
                                (1ull << VIRTIO_F_RING_EVENT_IDX)),
        "virtio-blk refused the features");
  b->read_only = d->features & (1ull << VIRTIO_BLK_F_RO);
  b->flush = d->features & (1ull << VIRTIO_BLK_F_FLUSH);
  /* capacity: config offset 0, read as two 32-bit halves under an unchanged generation. */
  uint32_t gen, lo, hi;
  do {
    gen = virtio_read(d, VIRTIO_MMIO_CONFIG_GENERATION);
    lo = virtio_read(d, VIRTIO_MMIO_CONFIG + 0);
    hi = virtio_read(d, VIRTIO_MMIO_CONFIG + 4);
  } while (gen != virtio_read(d, VIRTIO_MMIO_CONFIG_GENERATION));
  b->capacity = (uint64_t)hi << 32 | lo;
  virtq_init(d, q, 0, 0);
  CHECK(q->size >= 3 * depth, "queue of %u entries for depth %d", q->size, depth);
  virtq_set_interrupts(q, false);
  b->hdr = dma_alloc(sizeof(struct blk_req_hdr) * (uint64_t)depth, 64);
  b->status = dma_alloc((uint64_t)depth, 64);
  virtio_driver_ok(d);
}

int blk_queue(struct blk* b, uint32_t type, uint64_t sector, void* buf, uint32_t len) {
  int slot = -1;
  for (int i = 0; i < b->depth; i++) {
    if (!(b->busy & (1u << i))) {
      slot = i;
      break;
    }
  }
  if (slot < 0) return -1;
  b->hdr[slot] = (struct blk_req_hdr){type, 0, sector};
  b->status[slot] = 0xff;
  struct vbuf bufs[3];
  int n = 0;
  bufs[n++] = (struct vbuf){(uint64_t)&b->hdr[slot], sizeof(struct blk_req_hdr), false};
  if (len) bufs[n++] = (struct vbuf){(uint64_t)buf, len, type != VIRTIO_BLK_T_OUT};
  bufs[n++] = (struct vbuf){(uint64_t)&b->status[slot], 1, true};
  CHECK(virtq_add(b->q, bufs, n, (uint64_t)slot), "no descriptors for slot %d", slot);
  b->busy |= 1u << slot;
  return slot;
}

int blk_submit(struct blk* b, uint32_t type, uint64_t sector, void* buf, uint32_t len) {
  int slot = blk_queue(b, type, sector, buf, len);
  if (slot >= 0) virtq_kick(b->q);
  return slot;
}

static int blk_complete(struct blk* b, uint64_t token, uint32_t len, uint8_t* status) {
  int slot = (int)token;
  CHECK(slot < b->depth && (b->busy & (1u << slot)), "completion for idle slot %d", slot);
  CHECK(len >= 1, "used length %u: no status byte", len);
  b->busy &= ~(1u << slot);
  *status = b->status[slot];
  return slot;
}

int blk_reap(struct blk* b, uint8_t* status) {
  uint64_t token;
  uint32_t len;
  virtq_wait(b->q, &token, &len, 30000);
  return blk_complete(b, token, len, status);
}

int blk_try_reap(struct blk* b, uint8_t* status) {
  uint64_t token;
  uint32_t len;
  if (!virtq_get(b->q, &token, &len)) return -1;
  return blk_complete(b, token, len, status);
}

uint8_t blk_rw(struct blk* b, uint32_t type, uint64_t sector, void* buf, uint32_t len) {
  CHECK(b->busy == 0, "blk_rw with requests in flight");
  CHECK(blk_submit(b, type, sector, buf, len) >= 0, "no free slot");
  uint8_t status;
  blk_reap(b, &status);
  return status;
}

uint8_t blk_get_id(struct blk* b, char id[21]) {
  uint64_t mark = dma_mark();
  char* buf = dma_alloc(20, 8);
  uint8_t st = blk_rw(b, VIRTIO_BLK_T_GET_ID, 0, buf, 20);
  memcpy(id, buf, 20);
  id[20] = '\0';
  dma_release(mark);
  return st;
}

void pattern_fill(void* buf, uint64_t offset, uint64_t len, uint64_t seed) {
  uint64_t* p = buf;
  for (uint64_t i = 0; i < len / 8; i++) p[i] = pattern_word(seed, offset / 8 + i);
}

uint64_t pattern_check(const void* buf, uint64_t offset, uint64_t len, uint64_t seed) {
  const uint64_t* p = buf;
  for (uint64_t i = 0; i < len / 8; i++) {
    if (p[i] != pattern_word(seed, offset / 8 + i)) return offset + 8 * i;
  }
  return ~0ull;
}
