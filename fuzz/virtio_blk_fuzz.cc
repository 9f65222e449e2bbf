// Fuzzes virtio-blk request parsing through the split virtqueue, with real I/O on a small image
// file. The input supplies the queue layout, indices and a few device options, then the contents
// of guest RAM (descriptor table, rings, request headers, data, discard segments). The target
// lets the device pop and carry out every request, runs the I/O thread's loop until all of them
// completed, and checks besides the sanitizers that the image never changed size (no request
// reached past its end) and that the device completed everything it started.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "base/event_loop.h"
#include "base/log.h"
#include "block/raw_driver.h"
#include "hw/virtio/blk/virtio_blk.h"
#include "hw/virtio/virtio_defs.h"
#include "hw/virtio/virtqueue.h"
#include "memory/guest_ram.h"

namespace {

using namespace tandem;

constexpr uint64_t kRegionA = 0x10000, kSizeA = 0x10000;
constexpr uint64_t kRegionB = 0x20000, kSizeB = 0x4000;
constexpr uint64_t kRegionC = 0x100000, kSizeC = 0x1000;
constexpr uint64_t kImageSize = 64 * 1024;  // 128 sectors

struct Header {
  uint8_t log2_size;  // queue size 2^(x % 9): 1..256
  uint8_t flags;      // bit 0 EVENT_IDX, 1 INDIRECT_DESC, 2 read-only drive, 3 driver takes no
                      // FLUSH/DISCARD/WRITE_ZEROES, 4 writeback cache switched off
  uint16_t desc_off;
  uint16_t avail_off;
  uint16_t used_off;
  uint16_t last_avail_idx;
  uint16_t used_idx;
} __attribute__((packed));

// Completions go straight back into the queue of the current input.
class FuzzTransport final : public VirtioTransport {
 public:
  void kick(uint16_t) override {}
  void complete(const VirtqRequest& request, uint32_t written) override {
    if (queue && queue->push(request, written)) queue->needs_interrupt();
  }
  // As VirtioMmio does: the status byte is the request's last writable byte.
  void complete_with_status(const VirtqRequest& request, uint32_t written,
                            uint8_t status) override {
    if (!request.writable.empty()) {
      const iovec& seg = request.writable.back();
      static_cast<uint8_t*>(seg.iov_base)[seg.iov_len - 1] = status;
    }
    complete(request, written);
  }
  void config_changed() override {}
  EventLoop& loop() override { return loop_; }

  Virtqueue* queue = nullptr;
  EventLoop loop_;
};

struct World {
  GuestRam ram;
  FuzzTransport transport;
  UniqueFd images[2];                     // plain fds on the images, to watch their sizes
  std::unique_ptr<VirtioBlk> devices[2];  // read-write, read-only (each on its own image)

  World() {
    ram.add_region(kRegionA, kSizeA);
    ram.add_region(kRegionB, kSizeB);
    ram.add_region(kRegionC, kSizeC);
    for (bool ro : {false, true}) {
      char templ[] = "/tmp/tandem-blk-fuzz-XXXXXX";
      int fd = ::mkstemp(templ);
      if (fd < 0 || ::ftruncate(fd, kImageSize) != 0) std::abort();
      images[ro].reset(fd);
      RawDriver::Options o;
      o.read_only = ro;
      VirtioBlk::Options bo;
      bo.serial = "fuzz-serial";
      devices[ro] = std::make_unique<VirtioBlk>(RawDriver::open(templ, o, transport.loop_), bo);
      devices[ro]->attach(&transport);
      ::unlink(templ);  // the driver holds it open
    }
  }
};

World& world() {
  static World* w = new World;  // lives for the whole process, like the fuzzer itself
  return *w;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tandem::set_log_level("off");
  world();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Header h;
  if (size < sizeof h) return 0;
  std::memcpy(&h, data, sizeof h);
  data += sizeof h;
  size -= sizeof h;
  World& w = world();

  for (const RamRegion& r : w.ram.regions()) {
    size_t n = size < r.size ? size : r.size;
    std::memcpy(r.host, data, n);
    std::memset(r.host + n, 0, r.size - n);
    data += n;
    size -= n;
  }

  int which = (h.flags >> 2) & 1;
  VirtioBlk& dev = *w.devices[which];
  uint64_t features = dev.device_features() | virtio::feature_bit(virtio::kFeatureVersion1);
  if (h.flags & 1) features |= virtio::feature_bit(virtio::kFeatureEventIdx);
  if (h.flags & 2) features |= virtio::feature_bit(virtio::kFeatureIndirectDesc);
  if (h.flags & 8) {
    features &= ~(virtio::feature_bit(VirtioBlk::kFeatureFlush) |
                  virtio::feature_bit(VirtioBlk::kFeatureDiscard) |
                  virtio::feature_bit(VirtioBlk::kFeatureWriteZeroes));
  }
  dev.reset();
  dev.activate(features);
  if (h.flags & 16) {
    uint8_t off = 0;
    dev.write_config(VirtioBlk::kWritebackOffset, {&off, 1});
  }

  VirtqueueState state;
  state.size = static_cast<uint16_t>(1u << (h.log2_size % 9));
  state.ready = true;
  state.features = features;
  state.desc_addr = kRegionA + h.desc_off;
  state.driver_addr = kRegionA + h.avail_off;
  state.device_addr = kRegionA + h.used_off;
  state.last_avail_idx = h.last_avail_idx;
  state.used_idx = h.used_idx;
  state.signalled_used = h.used_idx;

  Virtqueue q(w.ram, 0, 256);
  if (!q.restore(state)) return 0;
  w.transport.queue = &q;
  dev.process_queue(q);
  // Every request the device started must complete, promptly.
  for (int i = 0; i < 2000 && dev.in_flight() > 0; ++i) w.transport.loop_.run_once(5);
  if (dev.in_flight() > 0) std::abort();
  w.transport.queue = nullptr;

  struct stat st;
  if (::fstat(w.images[which].get(), &st) != 0 || st.st_size != static_cast<off_t>(kImageSize)) {
    std::abort();  // something wrote past the end of the image
  }
  return 0;
}
