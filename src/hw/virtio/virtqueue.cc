#include "hw/virtio/virtqueue.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>

#include "base/log.h"
#include "hw/virtio/virtio_defs.h"

namespace tandem {

using namespace virtio;

namespace {

// Ring layout (section 2.7): offsets inside the available and used rings.
constexpr uint64_t kRingFlags = 0;
constexpr uint64_t kRingIdx = 2;
constexpr uint64_t kRingEntries = 4;

// Largest indirect table accepted: as many descriptors as the largest queue. Linux may make
// indirect tables longer than the queue itself, never longer than this.
constexpr uint32_t kMaxIndirectDescs = kMaxQueueSize;

uint64_t avail_ring_bytes(uint16_t size, bool event_idx) {
  return kRingEntries + 2ull * size + (event_idx ? 2 : 0);
}
uint64_t used_ring_bytes(uint16_t size, bool event_idx) {
  return kRingEntries + 8ull * size + (event_idx ? 2 : 0);
}

// The driver writes these fields concurrently; the fields are naturally aligned (checked in
// enable()), so 16-bit atomics on the host view are well defined.
uint16_t load16(const uint8_t* p, int order) {
  return __atomic_load_n(reinterpret_cast<const uint16_t*>(p), order);
}
void store16(uint8_t* p, uint16_t v, int order) {
  __atomic_store_n(reinterpret_cast<uint16_t*>(p), v, order);
}

VirtqDesc load_desc(const uint8_t* table, uint32_t i) {
  // One copy: the guest may rewrite the descriptor while we look at it, so every check below
  // works on this private copy, never on guest memory again.
  VirtqDesc d;
  std::memcpy(&d, table + 16ull * i, sizeof d);
  return d;
}

}  // namespace

size_t VirtqRequest::read(uint64_t offset, std::span<uint8_t> out) const {
  size_t done = 0;
  for (const iovec& seg : readable) {
    if (done == out.size()) break;
    if (offset >= seg.iov_len) {
      offset -= seg.iov_len;
      continue;
    }
    size_t n = std::min(seg.iov_len - offset, out.size() - done);
    std::memcpy(out.data() + done, static_cast<const uint8_t*>(seg.iov_base) + offset, n);
    done += n;
    offset = 0;
  }
  return done;
}

size_t VirtqRequest::write(uint64_t offset, std::span<const uint8_t> in) const {
  size_t done = 0;
  for (const iovec& seg : writable) {
    if (done == in.size()) break;
    if (offset >= seg.iov_len) {
      offset -= seg.iov_len;
      continue;
    }
    size_t n = std::min(seg.iov_len - offset, in.size() - done);
    std::memcpy(static_cast<uint8_t*>(seg.iov_base) + offset, in.data() + done, n);
    done += n;
    offset = 0;
  }
  return done;
}

Virtqueue::Virtqueue(const GuestRam& ram, uint16_t index, uint16_t num_max)
    : ram_(&ram), index_(index), num_max_(num_max), size_(num_max) {}

void Virtqueue::set_size(uint16_t size) {
  if (!ready_) size_ = size;
}
void Virtqueue::set_desc_addr(uint64_t gpa) {
  if (!ready_) desc_addr_ = gpa;
}
void Virtqueue::set_driver_addr(uint64_t gpa) {
  if (!ready_) driver_addr_ = gpa;
}
void Virtqueue::set_device_addr(uint64_t gpa) {
  if (!ready_) device_addr_ = gpa;
}

bool Virtqueue::fail(std::string message) {
  if (error_.empty()) {
    TLOG_WARN("virtqueue {}: {}", index_, message);
    error_ = std::move(message);
  }
  return false;
}

bool Virtqueue::enable(uint64_t features) {
  if (ready_) return true;
  if (failed()) return false;
  if (size_ == 0 || !std::has_single_bit(size_) || size_ > num_max_) {
    return fail(fmt::format("queue size {} is not a power of two <= {}", size_, num_max_));
  }
  features_ = features;
  event_idx_ = features & feature_bit(kFeatureEventIdx);
  indirect_ = features & feature_bit(kFeatureIndirectDesc);
  if (desc_addr_ % kDescAlign || driver_addr_ % kAvailAlign || device_addr_ % kUsedAlign) {
    return fail(fmt::format("misaligned rings: desc {:#x} avail {:#x} used {:#x}", desc_addr_,
                            driver_addr_, device_addr_));
  }
  desc_ = ram_->host_ptr(desc_addr_, 16ull * size_);
  avail_ = ram_->host_ptr(driver_addr_, avail_ring_bytes(size_, event_idx_));
  used_ = ram_->host_ptr(device_addr_, used_ring_bytes(size_, event_idx_));
  if (!desc_ || !avail_ || !used_) {
    desc_ = avail_ = used_ = nullptr;
    return fail(fmt::format("rings outside RAM: desc {:#x} avail {:#x} used {:#x} (size {})",
                            desc_addr_, driver_addr_, device_addr_, size_));
  }
  last_avail_idx_ = shadow_avail_idx_ = used_idx_ = signalled_used_ = 0;
  signalled_used_valid_ = false;
  pushed_since_check_ = false;
  notifications_disabled_ = false;
  ++generation_;
  ready_ = true;
  begin_batch();
  return true;
}

void Virtqueue::disable() {
  if (!ready_) return;
  ready_ = false;
  desc_ = avail_ = used_ = nullptr;
  ++generation_;
}

void Virtqueue::reset() {
  disable();
  size_ = num_max_;
  desc_addr_ = driver_addr_ = device_addr_ = 0;
  features_ = 0;
  event_idx_ = indirect_ = false;
  error_.clear();
  last_avail_idx_ = shadow_avail_idx_ = used_idx_ = signalled_used_ = 0;
  signalled_used_valid_ = pushed_since_check_ = notifications_disabled_ = false;
  ++generation_;
}

bool Virtqueue::load_avail_idx(uint16_t* out) {
  // Acquire: the ring entries and descriptors the driver wrote before bumping idx are visible
  // to the loads that follow.
  uint16_t idx = load16(avail_ + kRingIdx, __ATOMIC_ACQUIRE);
  if (static_cast<uint16_t>(idx - last_avail_idx_) > size_) {
    return fail(
        fmt::format("available index {} is more than {} ahead of {}", idx, size_, last_avail_idx_));
  }
  shadow_avail_idx_ = idx;
  *out = idx;
  return true;
}

uint16_t Virtqueue::available() {
  if (!ready_ || failed()) return 0;
  uint16_t idx = 0;
  if (!load_avail_idx(&idx)) return 0;
  return static_cast<uint16_t>(idx - last_avail_idx_);
}

void Virtqueue::prefetch_available() {
  if (!ready_ || failed()) return;
  uint16_t idx = load16(avail_ + kRingIdx, __ATOMIC_ACQUIRE);
  uint16_t waiting = static_cast<uint16_t>(idx - last_avail_idx_);
  if (waiting > size_) return;
  const unsigned n = std::min<unsigned>(waiting, kPrefetchChains);
  // Where each chain's walk has got to; size_ once it has ended (or is not ours to follow).
  std::array<uint32_t, kPrefetchChains> at;
  for (unsigned k = 0; k < n; ++k) {
    uint16_t slot = static_cast<uint16_t>(last_avail_idx_ + k) & (size_ - 1);
    at[k] = load16(avail_ + kRingEntries + 2ull * slot, __ATOMIC_RELAXED);
    if (at[k] < size_) __builtin_prefetch(desc_ + 16ull * at[k]);
  }
  // One step of every chain per round: each round waits for about one line, not n of them.
  // Virtio-blk's chains are three long (header, data, status); a few rounds cover most.
  constexpr int kRounds = 4;
  for (int round = 0; round < kRounds; ++round) {
    bool any = false;
    for (unsigned k = 0; k < n; ++k) {
      if (at[k] >= size_) continue;
      VirtqDesc d = load_desc(desc_, at[k]);
      if (round == 0 && !(d.flags & kDescFlagIndirect)) {
        // The first buffer: a request header, typically.
        if (const uint8_t* p = ram_->host_ptr(d.addr, 1)) __builtin_prefetch(p);
      }
      at[k] = (d.flags & kDescFlagNext) && !(d.flags & kDescFlagIndirect) ? d.next : size_;
      if (at[k] < size_) {
        __builtin_prefetch(desc_ + 16ull * at[k]);
        any = true;
      }
    }
    if (!any) break;
  }
}

std::optional<VirtqRequest> Virtqueue::pop() {
  VirtqRequest request;
  if (!pop_into(request)) return std::nullopt;
  return request;
}

bool Virtqueue::pop_into(VirtqRequest& request) {
  if (!ready_ || failed()) return false;
  if (budget_ == 0) {
    batch_exhausted_ = available() != 0;
    return false;
  }
  if (last_avail_idx_ == shadow_avail_idx_) {
    uint16_t idx;
    if (!load_avail_idx(&idx) || idx == last_avail_idx_) return false;
  }
  uint16_t slot = last_avail_idx_ & (size_ - 1);
  uint16_t head = load16(avail_ + kRingEntries + 2ull * slot, __ATOMIC_RELAXED);
  request.queue = index_;
  request.head = head;
  request.generation = generation_;
  request.readable.clear();
  request.writable.clear();
  request.readable_bytes = request.writable_bytes = 0;
  if (!walk_chain(head, request)) return false;
  ++last_avail_idx_;
  --budget_;
  if (event_idx_ && !notifications_disabled_) {
    // avail_event: "notify me once you make entry last_avail_idx available".
    store16(used_ + kRingEntries + 8ull * size_, last_avail_idx_, __ATOMIC_RELAXED);
  }
  return true;
}

bool Virtqueue::add_segment(uint64_t gpa, uint32_t len, bool writable, VirtqRequest& request) {
  // A buffer may span RAM regions that touch each other; resolve it piece by piece. A piece
  // that is not RAM (including an address range that wraps) fails the chain.
  if (writable) ram_->note_device_write(gpa, len);
  uint64_t left = len;
  while (left > 0) {
    const RamRegion* region = nullptr;
    for (const RamRegion& r : ram_->regions()) {
      if (r.contains(gpa, 1)) {
        region = &r;
        break;
      }
    }
    if (!region) {
      return fail(fmt::format("descriptor buffer [{:#x}, +{:#x}) is outside RAM", gpa, left));
    }
    uint64_t n = std::min(left, region->size - (gpa - region->gpa));
    iovec seg{region->host + (gpa - region->gpa), n};
    (writable ? request.writable : request.readable).push_back(seg);
    (writable ? request.writable_bytes : request.readable_bytes) += n;
    gpa += n;
    left -= n;
  }
  return true;
}

bool Virtqueue::walk_chain(uint16_t head, VirtqRequest& request) {
  const uint8_t* table = desc_;
  uint32_t table_size = size_;
  uint32_t max_len = size_;  // a chain can use each descriptor of its table at most once
  uint32_t seen = 0;
  bool in_indirect = false;
  bool seen_writable = false;
  uint32_t i = head;
  for (;;) {
    if (i >= table_size) {
      return fail(fmt::format("descriptor index {} out of range (table of {})", i, table_size));
    }
    if (++seen > max_len) {
      return fail(
          fmt::format("descriptor chain from head {} is longer than {} (loop?)", head, max_len));
    }
    VirtqDesc d = load_desc(table, i);
    if (d.flags & kDescFlagIndirect) {
      if (in_indirect) return fail("nested indirect descriptor");
      if (!indirect_) return fail("indirect descriptor without VIRTIO_F_INDIRECT_DESC");
      if (d.flags & kDescFlagNext) return fail("indirect descriptor with NEXT set");
      if (d.len == 0 || d.len % sizeof(VirtqDesc) != 0 ||
          d.len / sizeof(VirtqDesc) > kMaxIndirectDescs) {
        return fail(fmt::format("indirect table of bad size {}", d.len));
      }
      // The table is read with memcpy, so it needs no alignment; it must be one piece of RAM.
      table = ram_->host_ptr(d.addr, d.len);
      if (!table) {
        return fail(fmt::format("indirect table [{:#x}, +{:#x}) is outside RAM", d.addr, d.len));
      }
      table_size = max_len = d.len / sizeof(VirtqDesc);
      seen = 0;
      in_indirect = true;
      i = 0;
      continue;
    }
    bool writable = d.flags & kDescFlagWrite;
    if (!writable && seen_writable) return fail("readable descriptor after a writable one");
    seen_writable |= writable;
    if (d.len > 0 && !add_segment(d.addr, d.len, writable, request)) return false;
    if (!(d.flags & kDescFlagNext)) return true;
    i = d.next;
  }
}

bool Virtqueue::push(const VirtqRequest& request, uint32_t written) {
  if (request.queue != index_) return false;
  written = static_cast<uint32_t>(std::min<uint64_t>(written, request.writable_bytes));
  return push_used(request.head, request.generation, written);
}

bool Virtqueue::push_used(uint16_t head, uint64_t generation, uint32_t written, bool publish) {
  if (!is_current(generation)) return false;
  uint16_t slot = used_idx_ & (size_ - 1);
  VirtqUsedElem elem{head, written};
  std::memcpy(used_ + kRingEntries + 8ull * slot, &elem, sizeof elem);
  ++used_idx_;
  if (publish) publish_used();
  return true;
}

void Virtqueue::publish_used() {
  if (!ready_) return;
  // Release: the elements (and the data written into the buffers) are visible before the index.
  store16(used_ + kRingIdx, used_idx_, __ATOMIC_RELEASE);
  pushed_since_check_ = true;
}

bool Virtqueue::needs_interrupt() {
  if (!ready_ || !pushed_since_check_) return false;
  pushed_since_check_ = false;
  // Full fence: our used idx store must be visible before we read the driver's suppression
  // state, or driver and device could each miss the other's update.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!event_idx_) {
    return !(load16(avail_ + kRingFlags, __ATOMIC_RELAXED) & kAvailFlagNoInterrupt);
  }
  uint16_t old = signalled_used_;
  bool valid = signalled_used_valid_;
  signalled_used_ = used_idx_;
  signalled_used_valid_ = true;
  if (!valid) return true;
  uint16_t event = load16(avail_ + kRingEntries + 2ull * size_, __ATOMIC_RELAXED);
  // vring_need_event: interrupt if used_event lies in [old, new).
  return static_cast<uint16_t>(used_idx_ - event - 1) < static_cast<uint16_t>(used_idx_ - old);
}

void Virtqueue::disable_notifications() {
  if (!ready_ || notifications_disabled_) return;
  notifications_disabled_ = true;
  if (event_idx_) {
    // avail_event one behind what we popped: the driver's "did I just pass avail_event" test
    // fails for every chain it adds from now on (until its index wraps, 64K chains later).
    // Leaving it at last_avail_idx would still draw one kick, for the very next chain.
    store16(used_ + kRingEntries + 8ull * size_, static_cast<uint16_t>(last_avail_idx_ - 1),
            __ATOMIC_RELAXED);
  } else {
    store16(used_ + kRingFlags, kUsedFlagNoNotify, __ATOMIC_RELAXED);
  }
}

bool Virtqueue::enable_notifications() {
  if (!ready_ || failed() || batch_exhausted_) return false;
  if (polled_) return available() != 0;
  notifications_disabled_ = false;
  if (event_idx_) {
    store16(used_ + kRingEntries + 8ull * size_, last_avail_idx_, __ATOMIC_RELAXED);
  } else {
    store16(used_ + kRingFlags, 0, __ATOMIC_RELAXED);
  }
  // Full fence: the store above must be visible before we look for buffers added meanwhile.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return available() != 0;
}

VirtqueueState Virtqueue::save() const {
  return VirtqueueState{size_,
                        ready_,
                        desc_addr_,
                        driver_addr_,
                        device_addr_,
                        features_,
                        last_avail_idx_,
                        used_idx_,
                        signalled_used_,
                        signalled_used_valid_,
                        notifications_disabled_};
}

bool Virtqueue::restore(const VirtqueueState& state) {
  reset();
  size_ = state.size;
  desc_addr_ = state.desc_addr;
  driver_addr_ = state.driver_addr;
  device_addr_ = state.device_addr;
  if (!state.ready) return true;
  if (!enable(state.features)) return false;
  last_avail_idx_ = shadow_avail_idx_ = state.last_avail_idx;
  used_idx_ = state.used_idx;
  signalled_used_ = state.signalled_used;
  signalled_used_valid_ = state.signalled_used_valid;
  notifications_disabled_ = state.notifications_disabled;
  return true;
}

}  // namespace tandem
