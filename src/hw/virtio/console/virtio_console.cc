#include "hw/virtio/console/virtio_console.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "hw/virtio/virtio_defs.h"

namespace tandem {

namespace {

// Config space layout (section 5.3.4).
constexpr uint64_t kConfigCols = 0;
constexpr uint64_t kConfigMaxNrPorts = 4;
constexpr uint64_t kConfigEmergWr = 8;
constexpr uint64_t kConfigSize = 12;

uint32_t pack(VirtioConsole::Size s) {
  return s.cols | (uint32_t{s.rows} << 16);
}

}  // namespace

VirtioConsole::VirtioConsole(CharBackend& backend, std::optional<Size> size)
    : backend_(&backend), has_size_(size.has_value()), size_(size ? pack(*size) : 0) {
  backend_->set_frontend(this);
}

VirtioConsole::~VirtioConsole() {
  backend_->set_frontend(nullptr);
}

uint32_t VirtioConsole::device_id() const {
  return virtio::kDeviceIdConsole;
}

uint64_t VirtioConsole::device_features() const {
  uint64_t f = virtio::feature_bit(kFeatureEmergWrite);
  if (has_size_) f |= virtio::feature_bit(kFeatureSize);
  return f;
}

void VirtioConsole::set_size(Size size) {
  if (!has_size_ || size_.exchange(pack(size)) == pack(size)) return;
  if (attached()) transport().config_changed();
}

void VirtioConsole::read_config(uint64_t offset, std::span<uint8_t> data) {
  uint8_t config[kConfigSize] = {};
  uint32_t size = size_.load();
  uint32_t max_nr_ports = 1;
  std::memcpy(config + kConfigCols, &size, 4);  // cols, rows: two little-endian u16
  std::memcpy(config + kConfigMaxNrPorts, &max_nr_ports, 4);
  // emerg_wr reads as zero.
  for (size_t i = 0; i < data.size(); ++i) {
    data[i] = offset + i < kConfigSize ? config[offset + i] : 0;
  }
}

void VirtioConsole::write_config(uint64_t offset, std::span<const uint8_t> data) {
  // Emergency write: the driver stores a character in emerg_wr (before the queues exist).
  if (offset <= kConfigEmergWr && kConfigEmergWr < offset + data.size()) {
    backend_->write(data.subspan(kConfigEmergWr - offset, 1));
  }
}

void VirtioConsole::process_queue(Virtqueue& queue) {
  if (queue.index() == kTransmitQueue) {
    transmit(queue);
  } else if (queue.index() == kReceiveQueue) {
    fill_receive_buffers(queue);
  }
}

void VirtioConsole::transmit(Virtqueue& queue) {
  do {
    queue.disable_notifications();
    while (auto request = queue.pop()) {
      for (const iovec& seg : request->readable) {
        backend_->write({static_cast<const uint8_t*>(seg.iov_base), seg.iov_len});
      }
      queue.push(*request, 0);
    }
  } while (queue.enable_notifications());
}

void VirtioConsole::fill_receive_buffers(Virtqueue& queue) {
  bool resume = false;
  {
    std::lock_guard lock(input_mutex_);
    for (;;) {
      while (!input_.empty()) {
        auto request = queue.pop();
        if (!request) break;  // no buffer: input waits (and the backend pauses when we fill up)
        size_t n = static_cast<size_t>(std::min<uint64_t>(input_.size(), request->writable_bytes));
        std::vector<uint8_t> chunk(input_.begin(), input_.begin() + static_cast<ptrdiff_t>(n));
        size_t written = request->write(0, chunk);
        input_.erase(input_.begin(), input_.begin() + static_cast<ptrdiff_t>(written));
        queue.push(*request, static_cast<uint32_t>(written));
      }
      // Input left but no buffer: re-arm the driver's kick, and drain again if a buffer slipped
      // in before the driver could see that we want one.
      if (input_.empty() || !queue.enable_notifications()) break;
    }
    if (input_paused_ && input_.size() < kInputBufferSize) {
      input_paused_ = false;
      resume = true;
    }
  }
  if (resume) backend_->accept_input();
}

size_t VirtioConsole::can_receive() {
  std::lock_guard lock(input_mutex_);
  size_t room = kInputBufferSize - std::min(input_.size(), kInputBufferSize);
  if (room == 0) input_paused_ = true;
  return room;
}

void VirtioConsole::receive(std::span<const uint8_t> data) {
  {
    std::lock_guard lock(input_mutex_);
    input_.insert(input_.end(), data.begin(), data.end());
  }
  if (attached()) transport().kick(kReceiveQueue);
}

void VirtioConsole::reset() {
  // Pending host input survives a reset: it was typed for whoever drives the console next.
  std::lock_guard lock(input_mutex_);
  if (input_paused_ && input_.size() < kInputBufferSize) {
    input_paused_ = false;
    backend_->accept_input();
  }
}

}  // namespace tandem
