// The virtio-mmio transport, version 2 (virtio 1.2 section 4.2; "modern" only, no legacy
// version 1): a 0x200-byte register window per device, as Linux's virtio_mmio driver and the
// "virtio,mmio" device-tree binding expect. One transport class serves every virtio device on
// both machines.
//
// Threads: vCPU threads access registers (io_read/io_write); the device's queue work runs on the
// I/O thread (the EventLoop given at creation). A recursive mutex serialises the two.
//
// Notifications (driver -> device): each queue has an eventfd that the I/O thread watches. A
// QueueNotify register write signals it; a KVM machine can instead register it as an
// ioeventfd on kQueueNotifyOffset with datamatch = queue index (4-byte write), so that kicks
// never leave the kernel. Interrupts (device -> driver) go through the IrqLine, level-triggered:
// asserted while InterruptStatus != 0; a machine may back that line with an irqfd.
//
// VendorID is 0x4d444e54, "TNDM" in little-endian byte order (Linux does not interpret it).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "base/unique_fd.h"
#include "hw/core/irq.h"
#include "hw/virtio/virtio_device.h"
#include "hw/virtio/virtqueue.h"
#include "memory/guest_ram.h"
#include "memory/io_bus.h"

namespace tandem {

class EventLoop;

class VirtioMmio final : public IoDevice,
                         public VirtioTransport,
                         public std::enable_shared_from_this<VirtioMmio> {
 public:
  static constexpr uint64_t kSize = 0x200;
  static constexpr uint32_t kMagic = 0x74726976;  // "virt"
  static constexpr uint32_t kVersion = 2;
  static constexpr uint32_t kVendorId = 0x4d444e54;  // "TNDM"
  static constexpr uint64_t kQueueNotifyOffset = 0x50;
  static constexpr uint64_t kConfigOffset = 0x100;

  struct Options {
    // Notify through per-queue eventfds (which a KVM machine may turn into ioeventfds). When
    // false, QueueNotify writes post the work to the loop and notify_eventfd() returns -1.
    bool ioeventfd = true;
  };

  // `ram`, `irq` and `loop` must outlive the transport. Throws SystemError if eventfds fail.
  static std::shared_ptr<VirtioMmio> create(std::unique_ptr<VirtioDevice> device,
                                            const GuestRam& ram, IrqLine& irq, EventLoop& loop,
                                            Options options);
  static std::shared_ptr<VirtioMmio> create(std::unique_ptr<VirtioDevice> device,
                                            const GuestRam& ram, IrqLine& irq, EventLoop& loop) {
    return create(std::move(device), ram, irq, loop, Options{});
  }
  ~VirtioMmio() override;

  // IoDevice (vCPU threads).
  void io_read(uint64_t offset, std::span<uint8_t> data) override;
  void io_write(uint64_t offset, std::span<const uint8_t> data) override;

  // For KVM_IOEVENTFD: address base + kQueueNotifyOffset, length 4, datamatch = queue.
  bool wants_ioeventfd() const { return options_.ioeventfd; }
  int notify_eventfd(uint16_t queue) const;

  // VirtioTransport (I/O thread; complete() and config_changed() from any thread).
  void kick(uint16_t queue) override;
  void complete(const VirtqRequest& request, uint32_t written) override;
  void complete_with_status(const VirtqRequest& request, uint32_t written, uint8_t status) override;
  void config_changed() override;
  EventLoop& loop() override { return *loop_; }

  VirtioDevice& device() { return *device_; }
  uint32_t status() const;
  uint32_t interrupt_status() const;

  // Completions noted on the loop thread but not pushed yet (see complete()) are not part of the
  // state: save a quiescent device.
  VirtioState save() const;
  // Restores a saved state; a queue whose saved rings no longer fit RAM sets NEEDS_RESET.
  void restore(const VirtioState& state);

  struct Token {};  // lets create() use make_shared while keeping construction private
  VirtioMmio(Token, std::unique_ptr<VirtioDevice> device, const GuestRam& ram, IrqLine& irq,
             EventLoop& loop, Options options);

 private:
  uint32_t read_register(uint64_t offset);
  void write_register(uint64_t offset, uint32_t value);
  void write_status(uint32_t value);
  void write_queue_ready(uint32_t value);
  bool features_acceptable() const;
  uint64_t offered_features() const;
  Virtqueue* selected_queue();

  // All of these run with mutex_ held.
  void reset_locked();
  void process_locked(uint16_t queue);
  void after_queue_work(Virtqueue& queue);
  // complete() and complete_with_status() (status: where to write status_value, or null).
  void complete_request(const VirtqRequest& request, uint32_t written, uint8_t* status,
                        uint8_t status_value);
  // Loop thread: pushes the completions noted by complete() (takes the lock if there are any).
  void flush_completions();
  // The same with mutex_ held: used elements, status bytes, one interrupt decision per queue.
  void flush_completions_locked();
  void set_needs_reset(const std::string& why);
  void raise(uint32_t bits);
  void update_irq();
  bool running() const;

  void notify(uint16_t queue);             // vCPU thread: hand a kick to the I/O thread
  void process_from_loop(uint16_t queue);  // I/O thread entry point
  // The I/O thread's busy polling (pollable devices only).
  bool poll_queues();
  void set_polling(bool on);

  std::unique_ptr<VirtioDevice> device_;
  const GuestRam* ram_;
  IrqLine* irq_;
  EventLoop* loop_;
  Options options_;

  mutable std::recursive_mutex mutex_;
  uint32_t status_ = 0;
  uint64_t driver_features_ = 0;
  uint32_t device_features_sel_ = 0;
  uint32_t driver_features_sel_ = 0;
  uint32_t queue_sel_ = 0;
  uint32_t shm_sel_ = 0;
  uint32_t interrupt_status_ = 0;
  uint32_t config_generation_ = 0;
  bool irq_level_ = false;
  std::vector<Virtqueue> queues_;
  std::vector<UniqueFd> notify_fds_;
  std::vector<bool> queue_needs_check_;  // flush_completions_locked's scratch (mutex_)
  int poller_id_ = 0;

  // Completions from the loop thread's callbacks, waiting for flush_completions(). Only the loop
  // thread touches these (complete() on it, the posted flush and the poller), so no lock: the
  // lock is taken once per batch, to push them. What is needed of the request is copied, and a
  // reset in between is caught by the queue's generation (checked under the lock).
  struct Completion {
    uint8_t* status;  // written with status_value first, if not null
    uint64_t generation;
    uint32_t written;  // clamped to the request's writable bytes
    uint16_t queue;
    uint16_t head;
    uint8_t status_value;
  };
  std::vector<Completion> completions_;
  bool flush_posted_ = false;
};

}  // namespace tandem
