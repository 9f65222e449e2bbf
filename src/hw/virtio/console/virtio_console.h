// virtio-console (virtio 1.2 section 5.3) with a single port, like QEMU's "virtconsole" on its
// own bus: receiveq 0 carries host input to the guest (/dev/hvc0), transmitq 1 the guest's output.
// The host side is a CharBackend (stdio, file, null). VIRTIO_CONSOLE_F_SIZE is offered when the
// machine gives a terminal size; VIRTIO_CONSOLE_F_EMERG_WRITE always (one byte per config write).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>

#include "hw/char/char_backend.h"
#include "hw/virtio/virtio_device.h"

namespace tandem {

class VirtioConsole final : public VirtioDevice, public CharFrontend {
 public:
  static constexpr uint16_t kReceiveQueue = 0;
  static constexpr uint16_t kTransmitQueue = 1;
  static constexpr uint16_t kQueueSize = 256;
  static constexpr unsigned kFeatureSize = 0;
  static constexpr unsigned kFeatureMultiport = 1;
  static constexpr unsigned kFeatureEmergWrite = 2;
  // Host input held while the guest has no receive buffer; beyond it the backend stops reading.
  static constexpr size_t kInputBufferSize = 4096;

  struct Size {
    uint16_t cols;
    uint16_t rows;
  };

  // `backend` must outlive the device. With `size`, VIRTIO_CONSOLE_F_SIZE is offered.
  explicit VirtioConsole(CharBackend& backend, std::optional<Size> size = std::nullopt);
  ~VirtioConsole() override;

  // The terminal was resized (only meaningful when constructed with a size). Any thread.
  void set_size(Size size);

  // VirtioDevice
  uint32_t device_id() const override;
  uint64_t device_features() const override;
  uint16_t num_queues() const override { return 2; }
  uint16_t queue_num_max(uint16_t) const override { return kQueueSize; }
  void read_config(uint64_t offset, std::span<uint8_t> data) override;
  void write_config(uint64_t offset, std::span<const uint8_t> data) override;
  void process_queue(Virtqueue& queue) override;
  void reset() override;

  // CharFrontend (backend's I/O thread)
  size_t can_receive() override;
  void receive(std::span<const uint8_t> data) override;

 private:
  void transmit(Virtqueue& queue);
  void fill_receive_buffers(Virtqueue& queue);

  CharBackend* backend_;
  bool has_size_;
  std::atomic<uint32_t> size_;  // cols | rows << 16

  std::mutex input_mutex_;
  std::deque<uint8_t> input_;  // host input not yet in a guest buffer
  bool input_paused_ = false;  // told the backend we were full
};

}  // namespace tandem
