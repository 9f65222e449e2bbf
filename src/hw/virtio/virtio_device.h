// What every virtio device implements (console, rng, later block and net), independent of the
// transport that presents it to the guest (virtio-mmio today; virtio-pci could follow), and what
// the transport offers the device in return.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "hw/virtio/virtqueue.h"

namespace tandem {

class EventLoop;

// What a snapshot must keep of a virtio function apart from guest RAM: the driver-visible
// transport state and every queue. Device-specific state (e.g. pending console input) is the
// device's own business.
struct VirtioState {
  uint32_t status = 0;
  uint64_t driver_features = 0;
  uint32_t device_features_sel = 0;
  uint32_t driver_features_sel = 0;
  uint32_t queue_sel = 0;
  uint32_t interrupt_status = 0;
  uint32_t config_generation = 0;
  std::vector<VirtqueueState> queues;
};

// The transport as a device sees it. All of it may be called on the I/O thread; complete() and
// config_changed() from any thread.
class VirtioTransport {
 public:
  virtual ~VirtioTransport() = default;
  // Runs the device's process_queue(index) now, under the transport's lock, if the driver has
  // the device running (e.g. console input arrived and wants a receive buffer).
  virtual void kick(uint16_t queue) = 0;
  // Completes a request popped earlier (asynchronous devices): adds the used element and raises
  // the interrupt the driver asked for. Requests from before a reset (or a queue disable) are
  // dropped silently. Called from a callback of the I/O thread's loop, the completion is only
  // noted: the used elements and the interrupt decision of a whole batch of completions (one
  // reap of io_uring's completion queue) are made together, under one lock, once the loop's
  // round of callbacks is over or when the device is next polled, whichever comes first. The
  // request object may be reused as soon as this returns.
  virtual void complete(const VirtqRequest& request, uint32_t written) = 0;
  // complete() for a request whose last writable byte is its status (virtio-blk): `status` is
  // written there together with the used element, under the transport's lock and only if the
  // request is still current, so that it cannot race with a reset (once the reset returns, no
  // completion of an older request writes guest memory). `request` needs a writable byte.
  virtual void complete_with_status(const VirtqRequest& request, uint32_t written,
                                    uint8_t status) = 0;
  // The device changed its config space: bumps ConfigGeneration, sends a config interrupt.
  virtual void config_changed() = 0;
  // The I/O thread's loop (device timers, backend fds, io_uring completions).
  virtual EventLoop& loop() = 0;
};

class VirtioDevice {
 public:
  virtual ~VirtioDevice() = default;

  virtual uint32_t device_id() const = 0;
  // Device-specific feature bits (0..23 and device-specific high bits). The transport adds the
  // ring features it implements (VERSION_1, INDIRECT_DESC, EVENT_IDX).
  virtual uint64_t device_features() const = 0;
  // Whether the device can work with what the driver accepted (beyond the transport's own
  // checks). Called when the driver sets FEATURES_OK.
  virtual bool accept_features(uint64_t /*driver_features*/) { return true; }
  virtual uint16_t num_queues() const = 0;
  // Largest size the driver may give queue `index` (QueueNumMax); a power of two <= 32768.
  virtual uint16_t queue_num_max(uint16_t index) const = 0;

  // Config space (little-endian fields), offset from its start. Reads must fill `data`; bytes
  // beyond the device's config read as zero, writes there are ignored.
  virtual void read_config(uint64_t offset, std::span<uint8_t> data) = 0;
  virtual void write_config(uint64_t /*offset*/, std::span<const uint8_t> /*data*/) {}

  // The driver set DRIVER_OK: the device may use its queues now.
  virtual void activate(uint64_t /*driver_features*/) {}
  // The driver notified queue `queue.index()`, or the device asked for it through kick().
  // Runs on the I/O thread with the transport's lock held; must not block for long.
  virtual void process_queue(Virtqueue& queue) = 0;
  // Device reset (status 0 or NEEDS_RESET recovery): forget everything the driver set up.
  virtual void reset() = 0;
  // Whether every buffer its driver makes available is work to do at once (a storage request,
  // not a receive buffer waiting for input): then the I/O thread may busy-poll its queues
  // (EventLoop::add_poller) instead of waiting for notifications.
  virtual bool pollable() const { return false; }

  // Set by the transport when the device is plugged into it.
  void attach(VirtioTransport* transport) { transport_ = transport; }

 protected:
  VirtioTransport& transport() { return *transport_; }
  bool attached() const { return transport_ != nullptr; }

 private:
  VirtioTransport* transport_ = nullptr;
};

}  // namespace tandem
