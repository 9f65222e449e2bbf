/* See virtio_mmio.h. */
#include "virtio_mmio.h"

#define barrier() __asm__ volatile("" ::: "memory")

/* ---- DMA memory ---- */

static uint64_t dma_next, dma_end;

void dma_init(uint64_t base, uint64_t size) {
  CHECK(e820_type_of(base, size) == E820_RAM, "DMA region %#lx+%#lx is not RAM in the e820 map",
        base, size);
  dma_next = base;
  dma_end = base + size;
}

void* dma_alloc(uint64_t size, uint64_t align) {
  uint64_t at = (dma_next + align - 1) & ~(align - 1);
  CHECK(at + size <= dma_end, "out of DMA memory (%#lx bytes wanted)", size);
  dma_next = at + size;
  memset((void*)at, 0, size);
  return (void*)at;
}

uint64_t dma_mark(void) {
  return dma_next;
}

void dma_release(uint64_t mark) {
  dma_next = mark;
}

/* ---- registers ---- */

uint32_t virtio_read(const struct virtio_dev* d, uint32_t reg) {
  return mmio_read32(d->base + reg);
}

void virtio_write(const struct virtio_dev* d, uint32_t reg, uint32_t value) {
  mmio_write32(d->base + reg, value);
}

/* ---- the DSDT ---- */

/* AML integer at p (ZeroOp, OneOp, Byte/Word/DWord/QWordPrefix); returns bytes used or 0. */
static int aml_integer(const uint8_t* p, uint64_t* out) {
  switch (p[0]) {
    case 0x00:
      *out = 0;
      return 1;
    case 0x01:
      *out = 1;
      return 1;
    case 0x0a:
      *out = p[1];
      return 2;
    case 0x0b:
      *out = (uint64_t)p[1] | (uint64_t)p[2] << 8;
      return 3;
    case 0x0c:
      *out = (uint64_t)p[1] | (uint64_t)p[2] << 8 | (uint64_t)p[3] << 16 | (uint64_t)p[4] << 24;
      return 5;
    case 0x0e: {
      uint64_t v = 0;
      for (int i = 7; i >= 0; i--) v = v << 8 | p[1 + i];
      *out = v;
      return 9;
    }
    default:
      return 0;
  }
}

/* PkgLength at p: the package length (counting the PkgLength bytes); *used = its size. */
static uint32_t aml_pkg_length(const uint8_t* p, int* used) {
  int extra = p[0] >> 6;
  *used = 1 + extra;
  if (!extra) return p[0] & 0x3f;
  uint32_t len = p[0] & 0x0f;
  for (int i = 0; i < extra; i++) len |= (uint32_t)p[1 + i] << (4 + 8 * i);
  return len;
}

static const uint8_t* find_bytes(const uint8_t* from, const uint8_t* end, const uint8_t* pat,
                                 size_t n) {
  for (const uint8_t* p = from; p + n <= end; p++) {
    if (!memcmp(p, pat, n)) return p;
  }
  return NULL;
}

/* Name(_CRS, ResourceTemplate () {...}) inside [p, end): Memory32Fixed and the interrupt. */
static void parse_crs(struct virtio_dev* d, const uint8_t* p, const uint8_t* end) {
  static const uint8_t crs[] = {0x08, '_', 'C', 'R', 'S', 0x11};
  const uint8_t* c = find_bytes(p, end, crs, sizeof crs);
  CHECK(c, "LNRO0005 device without Name(_CRS, Buffer)");
  c += sizeof crs;
  int used;
  uint32_t pkg = aml_pkg_length(c, &used);
  const uint8_t* pkg_end = c + pkg;
  CHECK(pkg_end <= end, "_CRS buffer overruns the device");
  uint64_t size;
  int n = aml_integer(c + used, &size);
  CHECK(n > 0, "_CRS buffer size is not an integer");
  const uint8_t* r = c + used + n;
  CHECK(r + size == pkg_end, "_CRS buffer size %lu does not match its package", size);
  bool have_mem = false, have_irq = false, have_end = false;
  while (r < pkg_end && !have_end) {
    uint8_t tag = r[0];
    if (!(tag & 0x80)) { /* small item */
      if (((tag >> 3) & 0xf) == 0xf) have_end = true;
      r += 1 + (tag & 7);
      continue;
    }
    uint32_t len = (uint32_t)r[1] | (uint32_t)r[2] << 8;
    const uint8_t* data = r + 3;
    if (tag == 0x86) { /* Memory32Fixed */
      CHECK(len == 9, "Memory32Fixed length %u", len);
      memcpy(&d->base, data + 1, 4);
      uint32_t sz;
      memcpy(&sz, data + 5, 4);
      d->size = sz;
      have_mem = true;
    } else if (tag == 0x89) { /* Extended Interrupt */
      CHECK(len >= 6 && data[1] >= 1, "Extended Interrupt descriptor length %u", len);
      d->irq_level = !(data[0] & 2);
      d->irq_active_low = data[0] & 4;
      memcpy(&d->gsi, data + 2, 4);
      have_irq = true;
    }
    r = data + len;
  }
  CHECK(have_mem && have_irq && have_end, "_CRS: memory %d irq %d end tag %d", have_mem, have_irq,
        have_end);
}

int virtio_find_devices(struct virtio_dev* devs, int max) {
  uint64_t dsdt = acpi_find_table("DSDT");
  CHECK(dsdt, "no DSDT");
  const uint8_t* aml = (const uint8_t*)(dsdt + 36);
  const uint8_t* end = (const uint8_t*)(dsdt + mmio_read32(dsdt + 4));
  static const uint8_t hid[] = {0x08, '_', 'H', 'I', 'D', 0x0d, 'L', 'N',
                                'R',  'O', '0', '0', '0', '5',  0};
  static const uint8_t uid[] = {0x08, '_', 'U', 'I', 'D'};
  int n = 0;
  for (const uint8_t* p = find_bytes(aml, end, hid, sizeof hid); p;) {
    const uint8_t* next = find_bytes(p + sizeof hid, end, hid, sizeof hid);
    const uint8_t* dev_end = next ? next : end;
    CHECK(n < max, "more than %d virtio-mmio devices in the DSDT", max);
    struct virtio_dev* d = &devs[n];
    memset(d, 0, sizeof *d);
    const uint8_t* u = find_bytes(p, dev_end, uid, sizeof uid);
    uint64_t uid_value = 0;
    CHECK(u && aml_integer(u + sizeof uid, &uid_value) > 0, "LNRO0005 device without _UID");
    d->uid = (uint32_t)uid_value;
    parse_crs(d, p, dev_end);
    CHECK(virtio_read(d, VIRTIO_MMIO_MAGIC) == VIRTIO_MAGIC, "device at %#lx: magic %#x", d->base,
          virtio_read(d, VIRTIO_MMIO_MAGIC));
    CHECK(virtio_read(d, VIRTIO_MMIO_VERSION) == 2, "device at %#lx: version %u", d->base,
          virtio_read(d, VIRTIO_MMIO_VERSION));
    d->device_id = virtio_read(d, VIRTIO_MMIO_DEVICE_ID);
    n++;
    p = next;
  }
  /* In _UID order (command-line order). */
  for (int i = 1; i < n; i++) {
    for (int j = i; j > 0 && devs[j - 1].uid > devs[j].uid; j--) {
      struct virtio_dev t = devs[j];
      devs[j] = devs[j - 1];
      devs[j - 1] = t;
    }
  }
  return n;
}

/* ---- initialisation (virtio 1.2 section 3.1.1) ---- */

void virtio_reset(struct virtio_dev* d) {
  virtio_write(d, VIRTIO_MMIO_STATUS, 0);
  CHECK(virtio_read(d, VIRTIO_MMIO_STATUS) == 0, "status not 0 after reset");
}

bool virtio_negotiate(struct virtio_dev* d, uint64_t wanted) {
  virtio_reset(d);
  virtio_write(d, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
  virtio_write(d, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
  uint64_t offered = 0;
  for (uint32_t sel = 0; sel < 2; sel++) {
    virtio_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, sel);
    offered |= (uint64_t)virtio_read(d, VIRTIO_MMIO_DEVICE_FEATURES) << (32 * sel);
  }
  d->device_features = offered;
  CHECK(offered & (1ull << VIRTIO_F_VERSION_1), "device does not offer VERSION_1");
  d->features = (offered & wanted) | (1ull << VIRTIO_F_VERSION_1);
  for (uint32_t sel = 0; sel < 2; sel++) {
    virtio_write(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, sel);
    virtio_write(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(d->features >> (32 * sel)));
  }
  uint32_t s = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
  virtio_write(d, VIRTIO_MMIO_STATUS, s);
  return virtio_read(d, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK;
}

void virtq_init(struct virtio_dev* d, struct virtq* q, uint16_t index, uint16_t size) {
  virtio_write(d, VIRTIO_MMIO_QUEUE_SEL, index);
  CHECK(virtio_read(d, VIRTIO_MMIO_QUEUE_READY) == 0, "queue %u already ready", index);
  uint32_t max = virtio_read(d, VIRTIO_MMIO_QUEUE_NUM_MAX);
  CHECK(max > 0, "queue %u does not exist", index);
  if (size == 0) size = (uint16_t)(max < VIRTQ_MAX_SIZE ? max : VIRTQ_MAX_SIZE);
  CHECK(size <= max && size <= VIRTQ_MAX_SIZE, "queue %u: size %u > max %u", index, size, max);
  memset(q, 0, sizeof *q);
  q->dev = d;
  q->index = index;
  q->size = size;
  q->event_idx = d->features & (1ull << VIRTIO_F_RING_EVENT_IDX);
  q->interrupts = true;
  q->desc = dma_alloc(16ull * size, 4096);
  q->avail = dma_alloc(6 + 2ull * size, 4096);
  q->used = dma_alloc(6 + 8ull * size, 4096);
  for (uint16_t i = 0; i < size; i++) q->desc[i].next = (uint16_t)(i + 1);
  q->num_free = size;
  virtio_write(d, VIRTIO_MMIO_QUEUE_NUM, size);
  virtio_write(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)(uint64_t)q->desc);
  virtio_write(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)((uint64_t)q->desc >> 32));
  virtio_write(d, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)(uint64_t)q->avail);
  virtio_write(d, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)((uint64_t)q->avail >> 32));
  virtio_write(d, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)(uint64_t)q->used);
  virtio_write(d, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)((uint64_t)q->used >> 32));
  virtio_write(d, VIRTIO_MMIO_QUEUE_READY, 1);
  CHECK(virtio_read(d, VIRTIO_MMIO_QUEUE_READY) == 1, "queue %u not ready", index);
}

void virtio_driver_ok(struct virtio_dev* d) {
  uint32_t s = virtio_read(d, VIRTIO_MMIO_STATUS);
  virtio_write(d, VIRTIO_MMIO_STATUS, s | VIRTIO_STATUS_DRIVER_OK);
  s = virtio_read(d, VIRTIO_MMIO_STATUS);
  CHECK((s & VIRTIO_STATUS_DRIVER_OK) && !(s & VIRTIO_STATUS_NEEDS_RESET), "status %#x", s);
}

/* ---- the split virtqueue (virtio 1.2 section 2.7) ---- */

/* The event-index fields after the rings (virtio 1.2 section 2.7.6, 2.7.8). */
static volatile uint16_t* used_event(struct virtq* q) {
  return &q->avail->ring[q->size];
}
static volatile uint16_t* avail_event(struct virtq* q) {
  return (volatile uint16_t*)&q->used->ring[q->size];
}

/* vring_need_event: whether `event` lies in [old, new). */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx) {
  return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
}

/* used_event while interrupts are off: half the index space ahead of what we consumed. The
 * device interrupts when used_event lies among the used indices it published since its last
 * decision, and those lie within a queue's length of last_used, so it never does (Linux parks
 * used_event at 0 instead and takes one interrupt per 64K). Just behind last_used is not far
 * enough: once we consume the element the device has just published, last_used - 1 is that
 * element's index, still inside the device's window when it decides. */
static uint16_t used_event_off(const struct virtq* q) {
  return (uint16_t)(q->last_used + 0x8000);
}

bool virtq_add(struct virtq* q, const struct vbuf* bufs, int n, uint64_t token) {
  if (n <= 0 || q->num_free < n) return false;
  uint16_t head = q->free_head, i = head, last = head;
  for (int k = 0; k < n; k++) {
    volatile struct virtq_desc* d = &q->desc[i];
    d->addr = bufs[k].addr;
    d->len = bufs[k].len;
    d->flags = (uint16_t)((bufs[k].device_writes ? VIRTQ_DESC_F_WRITE : 0) |
                          (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
    last = i;
    i = d->next;
  }
  q->free_head = q->desc[last].next;
  q->num_free = (uint16_t)(q->num_free - n);
  q->chain_len[head] = (uint16_t)n;
  q->token[head] = token;
  q->avail->ring[q->avail_idx % q->size] = head;
  barrier(); /* the ring entry before the index (x86 keeps stores in order) */
  q->avail_idx++;
  q->avail->idx = q->avail_idx;
  barrier();
  return true;
}

void virtq_kick(struct virtq* q) {
  /* The new avail index must be visible before the device's flags are read: a store-load
   * ordering, which x86 only gives with a fence. */
  __asm__ volatile("mfence" ::: "memory");
  uint16_t old_idx = q->kick_old;
  q->kick_old = q->avail_idx;
  bool wanted = q->event_idx ? need_event(*avail_event(q), q->avail_idx, old_idx)
                             : !(q->used->flags & VIRTQ_USED_F_NO_NOTIFY);
  if (!wanted) {
    q->kicks_suppressed++;
    return;
  }
  q->kicks++;
  virtio_write(q->dev, VIRTIO_MMIO_QUEUE_NOTIFY, q->index);
}

bool virtq_get(struct virtq* q, uint64_t* token, uint32_t* len) {
  if (q->used->idx == q->last_used) return false;
  barrier();
  volatile struct virtq_used_elem* e = &q->used->ring[q->last_used % q->size];
  uint32_t head = e->id;
  CHECK(head < q->size && q->chain_len[head], "used ring returns bad id %u", head);
  if (len) *len = e->len;
  if (token) *token = q->token[head];
  /* Give the chain back to the free list. */
  uint16_t last = (uint16_t)head;
  for (uint16_t k = 1; k < q->chain_len[head]; k++) last = q->desc[last].next;
  q->desc[last].next = q->free_head;
  q->free_head = (uint16_t)head;
  q->num_free = (uint16_t)(q->num_free + q->chain_len[head]);
  q->chain_len[head] = 0;
  q->last_used++;
  if (q->event_idx && !q->interrupts) *used_event(q) = used_event_off(q);
  return true;
}

uint64_t now_ms(void) {
  return rdtsc() / tsc_khz();
}

void virtq_wait(struct virtq* q, uint64_t* token, uint32_t* len, uint64_t timeout_ms) {
  uint64_t deadline = now_ms() + timeout_ms;
  while (!virtq_get(q, token, len)) {
    CHECK(now_ms() < deadline, "queue %u: no completion within %lu ms (status %#x)", q->index,
          timeout_ms, virtio_read(q->dev, VIRTIO_MMIO_STATUS));
    cpu_relax();
  }
}

void virtq_set_interrupts(struct virtq* q, bool on) {
  q->interrupts = on;
  if (q->event_idx) {
    /* The device ignores the flags with EVENT_IDX (section 2.7.10). */
    q->avail->flags = 0;
    *used_event(q) = on ? q->last_used : used_event_off(q);
  } else {
    q->avail->flags = on ? 0 : VIRTQ_AVAIL_F_NO_INTERRUPT;
  }
  barrier();
}

/* ---- interrupts ---- */

static struct virtio_dev* by_vector[256];

static void virtio_irq(struct irq_frame* f) {
  struct virtio_dev* d = by_vector[f->vector];
  uint32_t isr = virtio_read(d, VIRTIO_MMIO_INTERRUPT_STATUS);
  d->isr_seen |= isr;
  if (!isr) {
    d->spurious++;
  } else if (d->hold_ack) {
    d->hold_ack--;
    d->unacked++;
  } else {
    virtio_write(d, VIRTIO_MMIO_INTERRUPT_ACK, isr);
    d->acked++;
  }
  d->irqs++;
  lapic_eoi();
}

void virtio_enable_irq(struct virtio_dev* d, int vector) {
  CHECK(current_cpl() == 0, "virtio_enable_irq at CPL%d", current_cpl());
  CHECK(d->gsi < 24, "GSI %u beyond the IOAPIC's 24 pins", d->gsi);
  d->vector = vector;
  by_vector[vector] = d;
  set_irq_handler(vector, virtio_irq);
  ioapic_route_mode((int)d->gsi, vector, lapic_id(), d->irq_level, d->irq_active_low, false);
}

void wait_at_least(const volatile uint32_t* counter, uint32_t target, uint64_t timeout_ms,
                   const char* what) {
  uint64_t deadline = now_ms() + timeout_ms;
  while (*counter < target) {
    CHECK(now_ms() < deadline, "no %s within %lu ms", what, timeout_ms);
    cpu_relax();
  }
}
