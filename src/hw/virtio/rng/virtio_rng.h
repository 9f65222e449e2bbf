// virtio-rng, the entropy device (virtio 1.2 section 5.4): one request queue whose writable
// buffers the device fills with random bytes from the host's getrandom().
#pragma once

#include "hw/virtio/virtio_device.h"

namespace tandem {

class VirtioRng final : public VirtioDevice {
 public:
  static constexpr uint16_t kQueueSize = 64;
  // Bytes given per request at most: a guest posting a huge buffer gets a short fill (the used
  // length tells it), not seconds of I/O-thread time.
  static constexpr uint32_t kMaxBytesPerRequest = 64 * 1024;

  uint32_t device_id() const override;
  uint64_t device_features() const override { return 0; }
  uint16_t num_queues() const override { return 1; }
  uint16_t queue_num_max(uint16_t) const override { return kQueueSize; }
  void read_config(uint64_t offset, std::span<uint8_t> data) override;  // no config space
  void process_queue(Virtqueue& queue) override;
  void reset() override {}
};

}  // namespace tandem
