#include "hw/virtio/blk/virtio_blk.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "base/error.h"
#include "base/log.h"
#include "hw/virtio/virtio_defs.h"

namespace tandem {

using virtio::feature_bit;

namespace {

// struct virtio_blk_req's header and struct virtio_blk_discard_write_zeroes.
struct RequestHeader {
  uint32_t type;
  uint32_t reserved;
  uint64_t sector;
};
static_assert(sizeof(RequestHeader) == 16);

struct DiscardSegment {
  uint64_t sector;
  uint32_t num_sectors;
  uint32_t flags;
};
static_assert(sizeof(DiscardSegment) == 16);

// Sets out to the `len` bytes of `segs` that start `skip` bytes in (reusing out's capacity).
void slice(const std::vector<iovec>& segs, uint64_t skip, uint64_t len, std::vector<iovec>& out) {
  out.clear();
  for (const iovec& s : segs) {
    if (len == 0) break;
    if (skip >= s.iov_len) {
      skip -= s.iov_len;
      continue;
    }
    uint64_t n = std::min<uint64_t>(s.iov_len - skip, len);
    out.push_back({static_cast<uint8_t*>(s.iov_base) + skip, n});
    len -= n;
    skip = 0;
  }
}

uint32_t clamp32(uint64_t v) {
  return static_cast<uint32_t>(std::min<uint64_t>(v, UINT32_MAX));
}

}  // namespace

struct VirtioBlk::Request {
  VirtqRequest vq;
  uint8_t* status = nullptr;  // last byte of the last writable segment
  uint32_t written = 1;       // used length reported on completion
  std::vector<iovec> data;
  // Discard and write-zeroes: segments still running, and whether one failed.
  std::atomic<unsigned> pending{0};
  std::atomic<bool> failed{false};
};

VirtioBlk::VirtioBlk(std::unique_ptr<BlockDriver> driver, Options options)
    : driver_(std::move(driver)),
      options_(std::move(options)),
      capacity_(driver_->size() / kSectorSize),
      default_writeback_(driver_->write_cache()),
      writeback_(default_writeback_) {
  if (options_.num_queues == 0 || options_.num_queues > kMaxQueues) {
    fail("virtio-blk: num-queues must be 1..{}, not {}", kMaxQueues, options_.num_queues);
  }
  if (options_.queue_size < 4 || options_.queue_size > virtio::kMaxQueueSize ||
      !std::has_single_bit(options_.queue_size)) {
    fail("virtio-blk: queue-size must be a power of two in 4..{}, not {}", virtio::kMaxQueueSize,
         options_.queue_size);
  }
  if (options_.serial.size() > kIdBytes) options_.serial.resize(kIdBytes);
}

VirtioBlk::~VirtioBlk() = default;

uint32_t VirtioBlk::device_id() const {
  return virtio::kDeviceIdBlock;
}

uint64_t VirtioBlk::device_features() const {
  uint64_t f = feature_bit(kFeatureSegMax) | feature_bit(kFeatureBlkSize) |
               feature_bit(kFeatureFlush) | feature_bit(kFeatureTopology) |
               feature_bit(kFeatureConfigWce);
  if (driver_->read_only()) {
    f |= feature_bit(kFeatureRo);
  } else {
    f |= feature_bit(kFeatureDiscard) | feature_bit(kFeatureWriteZeroes);
  }
  if (options_.num_queues > 1) f |= feature_bit(kFeatureMq);
  return f;
}

VirtioBlk::Config VirtioBlk::config() const {
  Config c{};
  uint32_t align_sectors = std::max<uint32_t>(1, driver_->request_alignment() / kSectorSize);
  c.capacity = capacity_;
  c.seg_max = options_.queue_size - 2u;  // as QEMU: room for the header and status descriptors
  c.blk_size = kSectorSize;
  c.physical_block_exp = static_cast<uint8_t>(std::countr_zero(std::bit_floor(align_sectors)));
  c.min_io_size = static_cast<uint16_t>(std::min<uint32_t>(align_sectors, UINT16_MAX));
  c.writeback = writeback_.load() ? 1 : 0;
  c.num_queues = options_.num_queues;
  c.max_discard_sectors = kMaxDiscardSectors;
  c.max_discard_seg = kMaxDiscardSegments;
  c.discard_sector_alignment = align_sectors;
  c.max_write_zeroes_sectors = kMaxDiscardSectors;
  c.max_write_zeroes_seg = kMaxDiscardSegments;
  c.write_zeroes_may_unmap = 1;
  return c;
}

void VirtioBlk::read_config(uint64_t offset, std::span<uint8_t> data) {
  Config c = config();
  if (offset >= sizeof c) return;
  size_t n = std::min<uint64_t>(data.size(), sizeof c - offset);
  std::memcpy(data.data(), reinterpret_cast<const uint8_t*>(&c) + offset, n);
}

void VirtioBlk::write_config(uint64_t offset, std::span<const uint8_t> data) {
  // Only `writeback` is writable (VIRTIO_BLK_F_CONFIG_WCE): 0 writethrough, 1 writeback.
  if (offset == kWritebackOffset && !data.empty()) writeback_ = data[0] != 0;
}

void VirtioBlk::activate(uint64_t driver_features) {
  driver_features_ = driver_features;
}

void VirtioBlk::reset() {
  // The transport has reset the queues (under its lock, which it holds here): completions of
  // older requests write no status any more (complete_with_status checks the queue's
  // generation under that lock)...
  driver_->cancel_all();  // ...and no data: the host operations have stopped
  driver_features_ = 0;
  writeback_ = default_writeback_;
}

bool VirtioBlk::writethrough() const {
  if (!driver_->write_cache()) return false;  // every write is durable already
  uint64_t f = driver_features_.load();
  if (!(f & feature_bit(kFeatureFlush))) return true;  // the driver cannot flush: spec 5.2.6.1
  return (f & feature_bit(kFeatureConfigWce)) && !writeback_.load();
}

VirtioBlk::Request* VirtioBlk::new_request() {
  if (free_requests_.empty()) {
    requests_.push_back(std::make_unique<Request>());
    return requests_.back().get();
  }
  Request* req = free_requests_.back();
  free_requests_.pop_back();
  return req;
}

void VirtioBlk::release(Request* req) {
  free_requests_.push_back(req);
}

void VirtioBlk::process_queue(Virtqueue& queue) {
  // Everything popped in this pass reaches the host together, at unplug.
  struct Plug {
    BlockDriver& driver;
    explicit Plug(BlockDriver& d) : driver(d) { driver.plug(); }
    ~Plug() { driver.unplug(); }
  } plug(*driver_);
  do {
    queue.disable_notifications();
    for (unsigned popped = 0;; ++popped) {
      if (popped % Virtqueue::kPrefetchChains == 0) queue.prefetch_available();
      Request* req = new_request();
      if (!queue.pop_into(req->vq)) {
        release(req);
        break;
      }
      handle(queue, req);
    }
  } while (queue.enable_notifications());
}

void VirtioBlk::finish_now(Virtqueue& queue, Request* req, uint8_t value, uint32_t written) {
  *req->status = value;
  queue.push(req->vq, written);
  release(req);
}

void VirtioBlk::finish_async(Request* req, uint8_t value) {
  // The status byte is req->status, the last writable byte (see handle()).
  transport().complete_with_status(req->vq, req->written, value);
  release(req);
}

void VirtioBlk::handle(Virtqueue& queue, Request* req) {
  const VirtqRequest& request = req->vq;
  if (request.writable_bytes == 0) {
    // No byte for the status: the request cannot be answered; give the buffers back.
    if (!warned_no_status_) {
      TLOG_WARN("virtio-blk: request without a status byte (further ones not logged)");
      warned_no_status_ = true;
    }
    queue.push(request, 0);
    release(req);
    return;
  }
  const iovec& last = request.writable.back();
  req->status = static_cast<uint8_t*>(last.iov_base) + last.iov_len - 1;
  req->written = 1;

  RequestHeader h{};
  if (request.read(0, {reinterpret_cast<uint8_t*>(&h), sizeof h}) != sizeof h) {
    return finish_now(queue, req, kStatusIoErr, 1);
  }
  auto in_range = [this](uint64_t sector, uint64_t sectors) {
    return sector <= capacity_ && sectors <= capacity_ - sector;
  };

  switch (h.type) {
    case kTypeIn:
    case kTypeOut: {
      bool is_read = h.type == kTypeIn;
      if (!is_read && driver_->read_only()) return finish_now(queue, req, kStatusIoErr, 1);
      uint64_t len = is_read ? request.writable_bytes - 1 : request.readable_bytes - sizeof h;
      if (len % kSectorSize != 0 || !in_range(h.sector, len / kSectorSize)) {
        return finish_now(queue, req, kStatusIoErr, is_read ? clamp32(request.writable_bytes) : 1);
      }
      // The data buffers: as the driver laid them out when, as Linux's does, it gave the header
      // and the status byte descriptors of their own (no copy); else the bytes in between.
      std::span<const iovec> data;
      if (is_read && request.writable.back().iov_len == 1) {
        data = std::span(request.writable).first(request.writable.size() - 1);
      } else if (!is_read && request.readable.front().iov_len == sizeof h) {
        data = std::span(request.readable).subspan(1);
      } else {
        slice(is_read ? request.writable : request.readable, is_read ? 0 : sizeof h, len,
              req->data);
        data = req->data;
      }
      req->written = is_read ? clamp32(request.writable_bytes) : 1;
      uint64_t offset = h.sector * kSectorSize;
      // The callbacks capture two pointers: std::function keeps them inline (no allocation).
      if (is_read) {
        driver_->read(offset, data,
                      [this, req](int r) { finish_async(req, r == 0 ? kStatusOk : kStatusIoErr); });
        return;
      }
      driver_->write(offset, data, [this, req](int r) {
        if (r != 0 || !writethrough()) {
          return finish_async(req, r == 0 ? kStatusOk : kStatusIoErr);
        }
        // Write cache off: the write completes once it is durable.
        driver_->flush(
            [this, req](int r2) { finish_async(req, r2 == 0 ? kStatusOk : kStatusIoErr); });
      });
      return;
    }
    case kTypeFlush:
      driver_->flush([this, req](int r) { finish_async(req, r == 0 ? kStatusOk : kStatusIoErr); });
      return;
    case kTypeGetId: {
      uint8_t id[kIdBytes] = {};
      std::memcpy(id, options_.serial.data(), options_.serial.size());
      uint64_t n = std::min<uint64_t>(kIdBytes, request.writable_bytes - 1);
      request.write(0, {id, n});
      return finish_now(queue, req, kStatusOk, static_cast<uint32_t>(n + 1));
    }
    case kTypeDiscard:
    case kTypeWriteZeroes:
      return start_discard(queue, req, h.type);
    default:
      return finish_now(queue, req, kStatusUnsupp, 1);
  }
}

void VirtioBlk::start_discard(Virtqueue& queue, Request* req, uint32_t type) {
  const VirtqRequest& vq = req->vq;
  bool discard = type == kTypeDiscard;
  unsigned feature = discard ? kFeatureDiscard : kFeatureWriteZeroes;
  if (!(driver_features_.load() & feature_bit(feature))) {
    return finish_now(queue, req, kStatusUnsupp, 1);
  }
  if (driver_->read_only()) return finish_now(queue, req, kStatusIoErr, 1);
  uint64_t bytes = vq.readable_bytes - sizeof(RequestHeader);
  if (bytes == 0 || bytes % sizeof(DiscardSegment) != 0) {
    return finish_now(queue, req, kStatusIoErr, 1);
  }
  uint64_t count = bytes / sizeof(DiscardSegment);
  if (count > kMaxDiscardSegments) return finish_now(queue, req, kStatusUnsupp, 1);

  // Check every segment before starting any: a bad one fails the request without side effects.
  DiscardSegment segs[kMaxDiscardSegments];
  for (uint64_t i = 0; i < count; ++i) {
    vq.read(sizeof(RequestHeader) + i * sizeof(DiscardSegment),
            {reinterpret_cast<uint8_t*>(&segs[i]), sizeof(DiscardSegment)});
    const DiscardSegment& s = segs[i];
    // Spec 5.2.6.2: unknown flags, and the unmap flag on a discard, are unsupported.
    if ((s.flags & ~kWriteZeroesFlagUnmap) || (discard && (s.flags & kWriteZeroesFlagUnmap))) {
      return finish_now(queue, req, kStatusUnsupp, 1);
    }
    if (s.num_sectors > kMaxDiscardSectors || s.sector > capacity_ ||
        s.num_sectors > capacity_ - s.sector) {
      return finish_now(queue, req, kStatusIoErr, 1);
    }
  }
  req->failed = false;
  req->pending = static_cast<unsigned>(count);
  for (uint64_t i = 0; i < count; ++i) {
    const DiscardSegment& s = segs[i];
    auto done = [this, req](int r) {
      if (r != 0) req->failed = true;
      if (--req->pending == 0) finish_async(req, req->failed ? kStatusIoErr : kStatusOk);
    };
    uint64_t offset = s.sector * kSectorSize, length = uint64_t{s.num_sectors} * kSectorSize;
    if (discard) {
      driver_->discard(offset, length, done);
    } else {
      driver_->write_zeroes(offset, length, s.flags & kWriteZeroesFlagUnmap, done);
    }
  }
}

}  // namespace tandem
