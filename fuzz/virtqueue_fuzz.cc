// Fuzzes the split virtqueue with hostile guest memory. The input supplies the queue layout and
// indices, then the contents of guest RAM (descriptor table, rings, indirect tables). The
// target pops every chain it can, touches every byte of every segment (so ASan sees any host
// access outside guest RAM), completes the requests and asks for interrupts, like a device would.
// Invariant checked besides the sanitizers: every segment lies inside one RAM region.

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "base/log.h"
#include "hw/virtio/virtio_defs.h"
#include "hw/virtio/virtqueue.h"
#include "memory/guest_ram.h"

namespace {

using namespace tandem;

// Two adjacent regions (buffers may span them) and a distant small one.
constexpr uint64_t kRegionA = 0x10000, kSizeA = 0x10000;
constexpr uint64_t kRegionB = 0x20000, kSizeB = 0x4000;
constexpr uint64_t kRegionC = 0x100000, kSizeC = 0x1000;

struct Header {
  uint8_t log2_size;  // queue size 2^(x % 11): 1..1024
  uint8_t flags;      // bit 0: EVENT_IDX, bit 1: INDIRECT_DESC, bit 2: disable notifications
  uint16_t desc_off;  // ring offsets into RAM (aligned as the spec demands, or not)
  uint16_t avail_off;
  uint16_t used_off;
  uint16_t last_avail_idx;
  uint16_t used_idx;
  uint32_t written;  // used length reported for each request
};

GuestRam& ram() {
  static GuestRam* ram = [] {
    auto* r = new GuestRam;  // lives for the whole process, like the fuzzer itself
    r->add_region(kRegionA, kSizeA);
    r->add_region(kRegionB, kSizeB);
    r->add_region(kRegionC, kSizeC);
    return r;
  }();
  return *ram;
}

bool inside_ram(const iovec& seg) {
  auto p = reinterpret_cast<uintptr_t>(seg.iov_base);
  for (const RamRegion& r : ram().regions()) {
    auto base = reinterpret_cast<uintptr_t>(r.host);
    if (p >= base && seg.iov_len <= r.size && p - base <= r.size - seg.iov_len) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tandem::set_log_level("off");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Header h;
  if (size < sizeof h) return 0;
  std::memcpy(&h, data, sizeof h);
  data += sizeof h;
  size -= sizeof h;

  // Guest RAM: the rest of the input, spread over regions A, B and C; the remainder zeroed.
  const RamRegion* regions[] = {&ram().regions()[0], &ram().regions()[1], &ram().regions()[2]};
  for (const RamRegion* r : regions) {
    size_t n = size < r->size ? size : r->size;
    std::memcpy(r->host, data, n);
    std::memset(r->host + n, 0, r->size - n);
    data += n;
    size -= n;
  }

  uint16_t qsize = static_cast<uint16_t>(1u << (h.log2_size % 11));
  uint64_t features = 0;
  if (h.flags & 1) features |= virtio::feature_bit(virtio::kFeatureEventIdx);
  if (h.flags & 2) features |= virtio::feature_bit(virtio::kFeatureIndirectDesc);

  VirtqueueState state;
  state.size = qsize;
  state.ready = true;
  state.features = features;
  state.desc_addr = kRegionA + h.desc_off;
  state.driver_addr = kRegionA + h.avail_off;
  state.device_addr = kRegionA + h.used_off;
  state.last_avail_idx = h.last_avail_idx;
  state.used_idx = h.used_idx;
  state.signalled_used = h.used_idx;

  Virtqueue q(ram(), 0, 1024);
  if (!q.restore(state)) return 0;
  if (h.flags & 4) q.disable_notifications();

  uint64_t sink = 0;
  // A well-formed ring yields at most qsize chains; give it a few more chances to misbehave.
  for (int i = 0; i < qsize + 4; ++i) {
    // Virtio-blk's pass looks ahead like this before popping: it must stay inside the rings too.
    if (i % Virtqueue::kPrefetchChains == 0) q.prefetch_available();
    auto request = q.pop();
    if (!request) break;
    for (const iovec& seg : request->readable) {
      if (!inside_ram(seg)) std::abort();
      const auto* p = static_cast<const uint8_t*>(seg.iov_base);
      for (size_t j = 0; j < seg.iov_len; ++j) sink += p[j];
    }
    for (const iovec& seg : request->writable) {
      if (!inside_ram(seg)) std::abort();
      std::memset(seg.iov_base, 0xa5, seg.iov_len);
    }
    q.push(*request, h.written);
    q.needs_interrupt();
  }
  q.enable_notifications();
  q.available();
  return sink == 0xdeadbeefcafef00d ? 1 : 0;  // keeps the reads from being optimised away
}
