/* A small virtio-mmio (version 2) driver for the test guests, written from the virtio 1.2
 * specification: device discovery through the DSDT (_HID "LNRO0005", as Linux finds them on an
 * ACPI system), the status/feature handshake, split virtqueues and their notifications, polled or
 * interrupt-driven completion. Runs at CPL3 except virtio_enable_irq() and the interrupt handler.
 * Guest-physical == virtual (the runtime identity-maps 4 GiB), so buffers are passed by address. */
#pragma once

#include "guest.h"

#define VIRTIO_MAX_DEVICES 8
#define VIRTQ_MAX_SIZE 1024

/* Registers (virtio 1.2 section 4.2.2). */
#define VIRTIO_MMIO_MAGIC 0x000
#define VIRTIO_MMIO_VERSION 0x004
#define VIRTIO_MMIO_DEVICE_ID 0x008
#define VIRTIO_MMIO_VENDOR_ID 0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES 0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES 0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL 0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX 0x034
#define VIRTIO_MMIO_QUEUE_NUM 0x038
#define VIRTIO_MMIO_QUEUE_READY 0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY 0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS 0x060
#define VIRTIO_MMIO_INTERRUPT_ACK 0x064
#define VIRTIO_MMIO_STATUS 0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW 0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH 0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW 0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH 0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW 0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH 0x0a4
#define VIRTIO_MMIO_CONFIG_GENERATION 0x0fc
#define VIRTIO_MMIO_CONFIG 0x100

#define VIRTIO_MAGIC 0x74726976 /* "virt" */

#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED 128

#define VIRTIO_F_RING_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32

#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_ENTROPY 4

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY 1

struct virtq_desc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t next;
};
struct virtq_avail {
  uint16_t flags;
  uint16_t idx;
  uint16_t ring[];
};
struct virtq_used_elem {
  uint32_t id;
  uint32_t len;
};
struct virtq_used {
  uint16_t flags;
  uint16_t idx;
  struct virtq_used_elem ring[];
};

struct virtio_dev {
  /* From the DSDT. */
  uint32_t uid;
  uint64_t base, size;
  uint32_t gsi;
  bool irq_level, irq_active_low;
  /* From the device. */
  uint32_t device_id;
  uint64_t device_features, features; /* offered, negotiated */
  /* Interrupts (virtio_enable_irq). */
  int vector;
  volatile uint32_t irqs;     /* handler runs */
  volatile uint32_t isr_seen; /* InterruptStatus bits seen by the handler, ORed */
  volatile uint32_t hold_ack; /* while nonzero, an interrupt is left unacknowledged (counts down) */
  volatile uint32_t unacked;  /* interrupts left unacknowledged because of hold_ack */
  volatile uint32_t acked;    /* interrupts acknowledged through InterruptAck */
  volatile uint32_t spurious; /* handler runs that found InterruptStatus == 0 */
};

/* One buffer of a descriptor chain. */
struct vbuf {
  uint64_t addr;
  uint32_t len;
  bool device_writes;
};

struct virtq {
  struct virtio_dev* dev;
  uint16_t index, size;
  volatile struct virtq_desc* desc;
  volatile struct virtq_avail* avail;
  volatile struct virtq_used* used;
  uint16_t free_head, num_free, last_used, avail_idx;
  /* VIRTIO_F_RING_EVENT_IDX (virtio 1.2 section 2.7.7/2.7.10): kicks follow the device's
   * avail_event, interrupts are asked for through used_event. kick_old: avail_idx at the last
   * kick decision. */
  bool event_idx, interrupts;
  uint16_t kick_old;
  uint64_t kicks, kicks_suppressed; /* QueueNotify writes made / skipped (no notification wanted) */
  uint16_t chain_len[VIRTQ_MAX_SIZE];
  uint64_t token[VIRTQ_MAX_SIZE];
};

/* ---- memory for rings and buffers: a bump allocator over RAM that the e820 map confirms ---- */
void dma_init(uint64_t base, uint64_t size);
void* dma_alloc(uint64_t size, uint64_t align);
uint64_t dma_mark(void);
void dma_release(uint64_t mark); /* frees everything allocated after dma_mark() returned mark */

/* ---- discovery and set-up ---- */
/* Reads the DSDT's LNRO0005 devices into devs (ordered by _UID), checks each window's magic and
 * version, and reads its DeviceID. Returns how many there are. CHECK-fails on a malformed entry. */
int virtio_find_devices(struct virtio_dev* devs, int max);
uint32_t virtio_read(const struct virtio_dev* d, uint32_t reg);
void virtio_write(const struct virtio_dev* d, uint32_t reg, uint32_t value);
/* Reset, ACKNOWLEDGE, DRIVER, features (VERSION_1 | (offered & wanted)), FEATURES_OK checked.
 * Returns false when the device refuses the features. */
bool virtio_negotiate(struct virtio_dev* d, uint64_t wanted);
/* Sets up queue `index` with `size` entries (0: the device's maximum, capped at VIRTQ_MAX_SIZE). */
void virtq_init(struct virtio_dev* d, struct virtq* q, uint16_t index, uint16_t size);
void virtio_driver_ok(struct virtio_dev* d);
void virtio_reset(struct virtio_dev* d);

/* ---- requests ---- */
/* Adds a chain (readable buffers first), makes it available; false if descriptors are short. */
bool virtq_add(struct virtq* q, const struct vbuf* bufs, int n, uint64_t token);
/* Notifies the device unless it said it does not need it (VIRTQ_USED_F_NO_NOTIFY, or with
 * EVENT_IDX an avail_event outside the chains added since the last kick). */
void virtq_kick(struct virtq* q);
/* Takes the next used element; false when none. */
bool virtq_get(struct virtq* q, uint64_t* token, uint32_t* len);
/* Spins until a used element arrives (CHECK-fails after `timeout_ms`). */
void virtq_wait(struct virtq* q, uint64_t* token, uint32_t* len, uint64_t timeout_ms);
/* VIRTQ_AVAIL_F_NO_INTERRUPT, or with EVENT_IDX used_event: at the next used element when on,
 * half the index space away from the used index when off. */
void virtq_set_interrupts(struct virtq* q, bool on);

/* ---- interrupts (CPL0) ---- */
/* Installs the handler on `vector` and routes the device's GSI to it through the IOAPIC with the
 * trigger mode and polarity the DSDT gives. The handler reads InterruptStatus, acks it (unless
 * hold_ack) and sends the EOI. */
void virtio_enable_irq(struct virtio_dev* d, int vector);
/* Spins (any CPL, interrupts on) until *counter >= target; CHECK-fails after `timeout_ms`. */
void wait_at_least(const volatile uint32_t* counter, uint32_t target, uint64_t timeout_ms,
                   const char* what);

/* Milliseconds from the TSC (tsc_khz() must have been called at CPL0 first). */
uint64_t now_ms(void);
