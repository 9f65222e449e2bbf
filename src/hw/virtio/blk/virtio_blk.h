// virtio-blk (virtio 1.2 section 5.2): a disk backed by a BlockDriver. Requests are read from
// the queues on the I/O thread and carried out asynchronously by the driver, straight into and
// out of guest RAM; each completes through the used ring when its driver callback runs, in
// whatever order the host finishes them.
//
// Offered: SEG_MAX, BLK_SIZE (512), TOPOLOGY (the host's O_DIRECT alignment as the physical block
// size), FLUSH, CONFIG_WCE, RO for read-only drives, DISCARD and WRITE_ZEROES for writable ones,
// MQ when there is more than one queue. Request types: IN, OUT, FLUSH, GET_ID, DISCARD,
// WRITE_ZEROES; anything else gets VIRTIO_BLK_S_UNSUPP.
//
// Malformed requests (short header, data not a multiple of 512 bytes, sectors past the end or
// overflowing, bad discard segments) get VIRTIO_BLK_S_IOERR or UNSUPP; a chain without a
// writable byte for the status is returned unused. A reset abandons requests in flight: once it
// returns, none of them writes guest memory or the image.
//
// Speed: every request popped in one pass over a queue reaches the host in one batch (the
// driver's plug/unplug: one io_uring_enter), and per-request state comes from a pool, so the
// steady state allocates nothing. A request takes no lock of the device's own: the pool belongs
// to the I/O thread, and the status byte of an asynchronous completion is written by the
// transport together with the used element (VirtioTransport::complete_with_status).
//
// Threads: process_queue() and every driver callback run on the I/O thread (the transport's
// loop); reset() and the config space come from vCPU threads, under the transport's lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "block/block_driver.h"
#include "hw/virtio/virtio_device.h"

namespace tandem {

class VirtioBlk final : public VirtioDevice {
 public:
  // Feature bits (section 5.2.3).
  static constexpr unsigned kFeatureSizeMax = 1;
  static constexpr unsigned kFeatureSegMax = 2;
  static constexpr unsigned kFeatureGeometry = 4;
  static constexpr unsigned kFeatureRo = 5;
  static constexpr unsigned kFeatureBlkSize = 6;
  static constexpr unsigned kFeatureFlush = 9;
  static constexpr unsigned kFeatureTopology = 10;
  static constexpr unsigned kFeatureConfigWce = 11;
  static constexpr unsigned kFeatureMq = 12;
  static constexpr unsigned kFeatureDiscard = 13;
  static constexpr unsigned kFeatureWriteZeroes = 14;

  // Request types and status values (section 5.2.6).
  static constexpr uint32_t kTypeIn = 0;
  static constexpr uint32_t kTypeOut = 1;
  static constexpr uint32_t kTypeFlush = 4;
  static constexpr uint32_t kTypeGetId = 8;
  static constexpr uint32_t kTypeDiscard = 11;
  static constexpr uint32_t kTypeWriteZeroes = 13;
  static constexpr uint8_t kStatusOk = 0;
  static constexpr uint8_t kStatusIoErr = 1;
  static constexpr uint8_t kStatusUnsupp = 2;
  static constexpr uint32_t kWriteZeroesFlagUnmap = 1;

  static constexpr uint64_t kSectorSize = 512;
  static constexpr size_t kIdBytes = 20;
  // Limits offered in the config space: per discard/write-zeroes segment (QEMU's default) and
  // segments per request.
  static constexpr uint32_t kMaxDiscardSectors = 0x3fffff;
  static constexpr uint32_t kMaxDiscardSegments = 32;
  static constexpr uint16_t kMaxQueues = 64;

  struct Options {
    uint16_t num_queues = 1;    // 1..kMaxQueues
    uint16_t queue_size = 256;  // power of two, 4..32768
    std::string serial;         // GET_ID answer; at most kIdBytes are used
  };

  // Config space layout (struct virtio_blk_config, little-endian, packed).
  struct Config {
    uint64_t capacity;
    uint32_t size_max;
    uint32_t seg_max;
    uint16_t cylinders;
    uint8_t heads;
    uint8_t sectors;
    uint32_t blk_size;
    uint8_t physical_block_exp;
    uint8_t alignment_offset;
    uint16_t min_io_size;
    uint32_t opt_io_size;
    uint8_t writeback;
    uint8_t unused0;
    uint16_t num_queues;
    uint32_t max_discard_sectors;
    uint32_t max_discard_seg;
    uint32_t discard_sector_alignment;
    uint32_t max_write_zeroes_sectors;
    uint32_t max_write_zeroes_seg;
    uint8_t write_zeroes_may_unmap;
    uint8_t unused1[3];
    uint32_t max_secure_erase_sectors;
    uint32_t max_secure_erase_seg;
    uint32_t secure_erase_sector_alignment;
  } __attribute__((packed));
  static_assert(sizeof(Config) == 72);
  static constexpr uint64_t kWritebackOffset = 32;

  // Throws Error if the options are out of range.
  VirtioBlk(std::unique_ptr<BlockDriver> driver, Options options);
  ~VirtioBlk() override;

  BlockDriver& driver() { return *driver_; }
  // Requests handed to the driver whose completion has not run yet.
  size_t in_flight() const { return driver_->in_flight(); }
  // Request objects made so far: bounded by the requests in flight at once (pooled). I/O thread
  // (or a test that drives the loop itself).
  size_t requests_made() const { return requests_.size(); }

  // VirtioDevice
  uint32_t device_id() const override;
  uint64_t device_features() const override;
  uint16_t num_queues() const override { return options_.num_queues; }
  uint16_t queue_num_max(uint16_t) const override { return options_.queue_size; }
  void read_config(uint64_t offset, std::span<uint8_t> data) override;
  void write_config(uint64_t offset, std::span<const uint8_t> data) override;
  void activate(uint64_t driver_features) override;
  void process_queue(Virtqueue& queue) override;
  void reset() override;
  bool pollable() const override { return true; }

 private:
  struct Request;

  Config config() const;
  // Takes ownership of req (popped into req->vq): hands it to the driver or finishes it.
  void handle(Virtqueue& queue, Request* req);
  // Ends a request synchronously (inside process_queue): status now, used element now, and
  // req back to the pool.
  void finish_now(Virtqueue& queue, Request* req, uint8_t value, uint32_t written);
  // Ends a request from a driver callback (loop thread): the transport writes the status and
  // the used element unless a reset abandoned the request; req goes back to the pool either way.
  void finish_async(Request* req, uint8_t value);
  void start_discard(Virtqueue& queue, Request* req, uint32_t type);
  bool writethrough() const;
  Request* new_request();
  void release(Request* req);

  // Every Request ever made (as many as were in flight at once), and the idle ones. Declared
  // before driver_, so destroyed after it: the driver drops its callbacks first. No lock: taken
  // in process_queue() and given back there or in a driver callback, all on the I/O thread.
  std::vector<std::unique_ptr<Request>> requests_;
  std::vector<Request*> free_requests_;

  std::unique_ptr<BlockDriver> driver_;
  Options options_;
  uint64_t capacity_;  // in sectors
  bool default_writeback_;

  std::atomic<uint64_t> driver_features_{0};
  std::atomic<bool> writeback_;
  bool warned_no_status_ = false;
};

}  // namespace tandem
