// Test-only: a virtio driver that behaves like Linux's virtio_mmio + virtio_ring on the guest
// side. It lays out split rings in guest RAM, runs the status/feature/queue initialisation
// through the transport's registers and adds descriptor chains. It writes raw descriptors, so
// tests can also build the malformed rings a hostile guest would.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "hw/core/irq.h"
#include "hw/virtio/virtio_defs.h"
#include "hw/virtio/virtio_mmio.h"
#include "memory/guest_ram.h"

namespace tandem::testing {

class FakeIrq final : public IrqLine {
 public:
  void set_level(bool asserted) override {
    if (asserted && !level) ++raised;
    level = asserted;
  }
  bool level = false;
  int raised = 0;
};

// MMIO register offsets used by the tests (virtio 1.2 section 4.2.2).
enum Reg : uint64_t {
  kMagic = 0x000,
  kVersion = 0x004,
  kDeviceId = 0x008,
  kVendorId = 0x00c,
  kDeviceFeatures = 0x010,
  kDeviceFeaturesSel = 0x014,
  kDriverFeatures = 0x020,
  kDriverFeaturesSel = 0x024,
  kQueueSel = 0x030,
  kQueueNumMax = 0x034,
  kQueueNum = 0x038,
  kQueueReady = 0x044,
  kQueueNotify = 0x050,
  kInterruptStatus = 0x060,
  kInterruptAck = 0x064,
  kStatus = 0x070,
  kQueueDescLow = 0x080,
  kQueueDescHigh = 0x084,
  kQueueDriverLow = 0x090,
  kQueueDriverHigh = 0x094,
  kQueueDeviceLow = 0x0a0,
  kQueueDeviceHigh = 0x0a4,
  kShmSel = 0x0ac,
  kShmLenLow = 0x0b0,
  kShmLenHigh = 0x0b4,
  kConfigGeneration = 0x0fc,
  kConfig = 0x100,
};

struct Buf {
  uint64_t gpa;
  uint32_t len;
  bool writable;
};

class TestDriver {
 public:
  struct Queue {
    uint16_t size = 0;
    uint64_t desc = 0, avail = 0, used = 0;
    uint16_t avail_idx = 0;  // driver's shadow of avail->idx
    uint16_t next_desc = 0;  // descriptors are handed out round-robin
    uint16_t last_used = 0;
  };

  // Rings and buffers are allocated from [heap, heap + heap_size) of guest RAM.
  TestDriver(VirtioMmio& dev, const GuestRam& ram, uint64_t heap, uint64_t heap_size)
      : dev_(dev), ram_(ram), heap_(heap), heap_end_(heap + heap_size) {}

  uint32_t read(uint64_t offset) {
    uint32_t v = 0;
    dev_.io_read(offset, {reinterpret_cast<uint8_t*>(&v), 4});
    return v;
  }
  void write(uint64_t offset, uint32_t value) {
    dev_.io_write(offset, {reinterpret_cast<const uint8_t*>(&value), 4});
  }
  uint32_t status() { return read(kStatus); }

  uint64_t device_features() {
    write(kDeviceFeaturesSel, 0);
    uint64_t lo = read(kDeviceFeatures);
    write(kDeviceFeaturesSel, 1);
    uint64_t hi = read(kDeviceFeatures);
    return lo | hi << 32;
  }

  // reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK (checked). Returns false if the device
  // refused the features.
  bool negotiate(uint64_t features) {
    write(kStatus, 0);
    write(kStatus, virtio::kStatusAcknowledge);
    write(kStatus, virtio::kStatusAcknowledge | virtio::kStatusDriver);
    write(kDriverFeaturesSel, 0);
    write(kDriverFeatures, static_cast<uint32_t>(features));
    write(kDriverFeaturesSel, 1);
    write(kDriverFeatures, static_cast<uint32_t>(features >> 32));
    write(kStatus, virtio::kStatusAcknowledge | virtio::kStatusDriver | virtio::kStatusFeaturesOk);
    features_ = features;
    return status() & virtio::kStatusFeaturesOk;
  }

  // Allocates rings like Linux (desc 16-aligned, avail 2, used 4; here all page-aligned) and
  // enables the queue.
  Queue& setup_queue(uint16_t index, uint16_t size) {
    if (queues_.size() <= index) queues_.resize(index + 1);
    Queue& q = queues_[index];
    q = Queue{};
    q.size = size;
    q.desc = alloc(16ull * size, 4096);
    q.avail = alloc(6 + 2ull * size, 4096);
    q.used = alloc(6 + 8ull * size, 4096);
    write(kQueueSel, index);
    write(kQueueNum, size);
    program_queue(q.desc, q.avail, q.used);
    write(kQueueReady, 1);
    return q;
  }
  void program_queue(uint64_t desc, uint64_t avail, uint64_t used) {
    write(kQueueDescLow, static_cast<uint32_t>(desc));
    write(kQueueDescHigh, static_cast<uint32_t>(desc >> 32));
    write(kQueueDriverLow, static_cast<uint32_t>(avail));
    write(kQueueDriverHigh, static_cast<uint32_t>(avail >> 32));
    write(kQueueDeviceLow, static_cast<uint32_t>(used));
    write(kQueueDeviceHigh, static_cast<uint32_t>(used >> 32));
  }

  void driver_ok() {
    write(kStatus, virtio::kStatusAcknowledge | virtio::kStatusDriver | virtio::kStatusFeaturesOk |
                       virtio::kStatusDriverOk);
  }

  // Full Linux-like bring-up of `nqueues` queues of `size`.
  bool init(uint64_t features, uint16_t nqueues, uint16_t size) {
    if (!negotiate(features)) return false;
    for (uint16_t i = 0; i < nqueues; ++i) setup_queue(i, size);
    driver_ok();
    return true;
  }

  uint64_t alloc(uint64_t size, uint64_t align = 16) {
    uint64_t p = (heap_ + align - 1) & ~(align - 1);
    if (p + size > heap_end_) throw Error("test driver heap exhausted");
    heap_ = p + size;
    return p;
  }

  Queue& queue(uint16_t index) { return queues_.at(index); }

  void write_desc(Queue& q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
                  uint16_t next) {
    ram_.store(q.desc + 16ull * i, virtio::VirtqDesc{addr, len, flags, next});
  }

  // Puts `bufs` in descriptors chained with NEXT and makes the chain available. Returns the head.
  uint16_t add_chain(uint16_t qi, const std::vector<Buf>& bufs) {
    Queue& q = queue(qi);
    uint16_t head = q.next_desc;
    for (size_t i = 0; i < bufs.size(); ++i) {
      uint16_t idx = static_cast<uint16_t>((head + i) % q.size);
      uint16_t next = static_cast<uint16_t>((idx + 1) % q.size);
      uint16_t flags = (bufs[i].writable ? virtio::kDescFlagWrite : 0) |
                       (i + 1 < bufs.size() ? virtio::kDescFlagNext : 0);
      write_desc(q, idx, bufs[i].gpa, bufs[i].len, flags, next);
    }
    q.next_desc = static_cast<uint16_t>((head + bufs.size()) % q.size);
    make_available(qi, head);
    return head;
  }

  // One descriptor pointing at an indirect table holding `bufs`.
  uint16_t add_indirect(uint16_t qi, const std::vector<Buf>& bufs) {
    Queue& q = queue(qi);
    uint64_t table = alloc(16 * bufs.size(), 16);
    for (size_t i = 0; i < bufs.size(); ++i) {
      uint16_t flags = (bufs[i].writable ? virtio::kDescFlagWrite : 0) |
                       (i + 1 < bufs.size() ? virtio::kDescFlagNext : 0);
      ram_.store(table + 16 * i,
                 virtio::VirtqDesc{bufs[i].gpa, bufs[i].len, flags, static_cast<uint16_t>(i + 1)});
    }
    uint16_t head = q.next_desc;
    write_desc(q, head, table, static_cast<uint32_t>(16 * bufs.size()), virtio::kDescFlagIndirect,
               0);
    q.next_desc = static_cast<uint16_t>((head + 1) % q.size);
    make_available(qi, head);
    return head;
  }

  // avail->ring[idx % size] = head; then (after a release fence, as virtio_wmb) avail->idx++.
  void make_available(uint16_t qi, uint16_t head) {
    Queue& q = queue(qi);
    ram_.store<uint16_t>(q.avail + 4 + 2ull * (q.avail_idx % q.size), head);
    ++q.avail_idx;
    __atomic_thread_fence(__ATOMIC_RELEASE);
    ram_.store<uint16_t>(q.avail + 2, q.avail_idx);
  }
  void set_avail_idx(uint16_t qi, uint16_t idx) {
    queue(qi).avail_idx = idx;
    ram_.store<uint16_t>(queue(qi).avail + 2, idx);
  }

  void kick(uint16_t qi) { write(kQueueNotify, qi); }

  std::optional<virtio::VirtqUsedElem> get_used(uint16_t qi) {
    Queue& q = queue(qi);
    uint16_t idx = used_idx(qi);
    if (idx == q.last_used) return std::nullopt;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    auto elem = ram_.load<virtio::VirtqUsedElem>(q.used + 4 + 8ull * (q.last_used % q.size));
    ++q.last_used;
    // Like Linux's virtqueue_get_buf: with EVENT_IDX, ask for an interrupt at the next entry.
    if (features_ & virtio::feature_bit(virtio::kFeatureEventIdx)) set_used_event(qi, q.last_used);
    return elem;
  }
  uint16_t used_idx(uint16_t qi) { return ram_.load<uint16_t>(queue(qi).used + 2); }
  uint16_t used_flags(uint16_t qi) { return ram_.load<uint16_t>(queue(qi).used); }
  uint16_t avail_event(uint16_t qi) {
    return ram_.load<uint16_t>(queue(qi).used + 4 + 8ull * queue(qi).size);
  }
  void set_used_event(uint16_t qi, uint16_t v) {
    ram_.store<uint16_t>(queue(qi).avail + 4 + 2ull * queue(qi).size, v);
  }
  void set_avail_flags(uint16_t qi, uint16_t v) { ram_.store<uint16_t>(queue(qi).avail, v); }

  // Reads InterruptStatus and acknowledges it, as the Linux interrupt handler does.
  uint32_t ack_interrupt() {
    uint32_t s = read(kInterruptStatus);
    write(kInterruptAck, s);
    return s;
  }

 private:
  VirtioMmio& dev_;
  const GuestRam& ram_;
  uint64_t heap_;
  uint64_t heap_end_;
  uint64_t features_ = 0;
  std::vector<Queue> queues_;
};

}  // namespace tandem::testing
