#include "hw/virtio/virtio_mmio.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "base/error.h"
#include "base/event_loop.h"
#include "base/log.h"
#include "hw/virtio/virtio_defs.h"

namespace tandem {

using namespace virtio;

namespace {

// Register offsets (virtio 1.2 section 4.2.2).
enum : uint64_t {
  kRegMagic = 0x000,
  kRegVersion = 0x004,
  kRegDeviceId = 0x008,
  kRegVendorId = 0x00c,
  kRegDeviceFeatures = 0x010,
  kRegDeviceFeaturesSel = 0x014,
  kRegDriverFeatures = 0x020,
  kRegDriverFeaturesSel = 0x024,
  kRegQueueSel = 0x030,
  kRegQueueNumMax = 0x034,
  kRegQueueNum = 0x038,
  kRegQueueReady = 0x044,
  kRegQueueNotify = 0x050,
  kRegInterruptStatus = 0x060,
  kRegInterruptAck = 0x064,
  kRegStatus = 0x070,
  kRegQueueDescLow = 0x080,
  kRegQueueDescHigh = 0x084,
  kRegQueueDriverLow = 0x090,
  kRegQueueDriverHigh = 0x094,
  kRegQueueDeviceLow = 0x0a0,
  kRegQueueDeviceHigh = 0x0a4,
  kRegShmSel = 0x0ac,
  kRegShmLenLow = 0x0b0,
  kRegShmLenHigh = 0x0b4,
  kRegShmBaseLow = 0x0b8,
  kRegShmBaseHigh = 0x0bc,
  kRegQueueReset = 0x0c0,
  kRegConfigGeneration = 0x0fc,
};

// The ring features this transport and Virtqueue implement for every device.
constexpr uint64_t kTransportFeatures = feature_bit(kFeatureVersion1) |
                                        feature_bit(kFeatureIndirectDesc) |
                                        feature_bit(kFeatureEventIdx);

uint64_t set_low(uint64_t v, uint32_t low) {
  return (v & ~uint64_t{0xffffffff}) | low;
}
uint64_t set_high(uint64_t v, uint32_t high) {
  return (v & 0xffffffff) | (uint64_t{high} << 32);
}

}  // namespace

std::shared_ptr<VirtioMmio> VirtioMmio::create(std::unique_ptr<VirtioDevice> device,
                                               const GuestRam& ram, IrqLine& irq, EventLoop& loop,
                                               Options options) {
  auto transport =
      std::make_shared<VirtioMmio>(Token{}, std::move(device), ram, irq, loop, options);
  // The loop's callbacks hold only a weak reference: a kick racing with destruction is dropped.
  std::weak_ptr<VirtioMmio> weak = transport;
  for (uint16_t q = 0; q < transport->notify_fds_.size(); ++q) {
    int fd = transport->notify_fds_[q].get();
    loop.add_fd(fd, EPOLLIN, [weak, fd, q](uint32_t) {
      uint64_t count;
      if (::read(fd, &count, sizeof count) != sizeof count) return;  // spurious wake-up
      if (auto self = weak.lock()) self->process_from_loop(q);
    });
  }
  if (transport->device_->pollable()) {
    transport->poller_id_ = loop.add_poller(
        [weak] {
          auto self = weak.lock();
          return self && self->poll_queues();
        },
        [weak](bool on) {
          if (auto self = weak.lock()) self->set_polling(on);
        });
  }
  return transport;
}

VirtioMmio::VirtioMmio(Token, std::unique_ptr<VirtioDevice> device, const GuestRam& ram,
                       IrqLine& irq, EventLoop& loop, Options options)
    : device_(std::move(device)), ram_(&ram), irq_(&irq), loop_(&loop), options_(options) {
  uint16_t n = device_->num_queues();
  queues_.reserve(n);
  for (uint16_t q = 0; q < n; ++q) {
    uint16_t num_max = device_->queue_num_max(q);
    if (num_max == 0 || num_max > kMaxQueueSize || !std::has_single_bit(num_max)) {
      fail("virtio device {}: queue {} has bad maximum size {}", device_->device_id(), q, num_max);
    }
    queues_.emplace_back(*ram_, q, num_max);
    queue_needs_check_.push_back(false);
    if (options_.ioeventfd) {
      UniqueFd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
      if (!fd) fail_errno("eventfd for virtio queue {}", q);
      notify_fds_.push_back(std::move(fd));
    }
  }
  device_->attach(this);
}

VirtioMmio::~VirtioMmio() {
  for (const UniqueFd& fd : notify_fds_) loop_->remove_fd(fd.get());
  if (poller_id_) loop_->remove_poller(poller_id_);
}

int VirtioMmio::notify_eventfd(uint16_t queue) const {
  if (queue >= notify_fds_.size()) return -1;
  return notify_fds_[queue].get();
}

uint32_t VirtioMmio::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

uint32_t VirtioMmio::interrupt_status() const {
  std::lock_guard lock(mutex_);
  return interrupt_status_;
}

uint64_t VirtioMmio::offered_features() const {
  return device_->device_features() | kTransportFeatures;
}

Virtqueue* VirtioMmio::selected_queue() {
  return queue_sel_ < queues_.size() ? &queues_[queue_sel_] : nullptr;
}

bool VirtioMmio::running() const {
  return (status_ & kStatusDriverOk) && !(status_ & kStatusNeedsReset);
}

// --- Register access -------------------------------------------------------------------------

void VirtioMmio::io_read(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(mutex_);
  if (offset >= kConfigOffset) {
    std::memset(data.data(), 0, data.size());
    device_->read_config(offset - kConfigOffset, data);
    return;
  }
  // The spec allows only aligned 32-bit accesses to the registers; others read as zero.
  if (data.size() != 4 || offset % 4 != 0) {
    TLOG_DEBUG("virtio-mmio: {}-byte read at {:#x} ignored", data.size(), offset);
    std::memset(data.data(), 0, data.size());
    return;
  }
  uint32_t value = read_register(offset);
  std::memcpy(data.data(), &value, 4);
}

void VirtioMmio::io_write(uint64_t offset, std::span<const uint8_t> data) {
  if (offset >= kConfigOffset) {
    std::lock_guard lock(mutex_);
    device_->write_config(offset - kConfigOffset, data);
    return;
  }
  if (data.size() != 4 || offset % 4 != 0) {
    TLOG_DEBUG("virtio-mmio: {}-byte write at {:#x} ignored", data.size(), offset);
    return;
  }
  uint32_t value;
  std::memcpy(&value, data.data(), 4);
  if (offset == kRegQueueNotify) {
    notify(static_cast<uint16_t>(value));  // no lock: just hands the kick to the I/O thread
    return;
  }
  std::lock_guard lock(mutex_);
  write_register(offset, value);
}

uint32_t VirtioMmio::read_register(uint64_t offset) {
  Virtqueue* q = selected_queue();
  switch (offset) {
    case kRegMagic:
      return kMagic;
    case kRegVersion:
      return kVersion;
    case kRegDeviceId:
      return device_->device_id();
    case kRegVendorId:
      return kVendorId;
    case kRegDeviceFeatures:
      if (device_features_sel_ > 1) return 0;
      return static_cast<uint32_t>(offered_features() >> (32 * device_features_sel_));
    case kRegQueueNumMax:
      return q ? q->num_max() : 0;
    case kRegQueueNum:
      return q ? q->size() : 0;
    case kRegQueueReady:
      return q && q->ready();
    case kRegInterruptStatus:
      return interrupt_status_;
    case kRegStatus:
      return status_;
    case kRegQueueDescLow:
      return q ? static_cast<uint32_t>(q->desc_addr()) : 0;
    case kRegQueueDescHigh:
      return q ? static_cast<uint32_t>(q->desc_addr() >> 32) : 0;
    case kRegQueueDriverLow:
      return q ? static_cast<uint32_t>(q->driver_addr()) : 0;
    case kRegQueueDriverHigh:
      return q ? static_cast<uint32_t>(q->driver_addr() >> 32) : 0;
    case kRegQueueDeviceLow:
      return q ? static_cast<uint32_t>(q->device_addr()) : 0;
    case kRegQueueDeviceHigh:
      return q ? static_cast<uint32_t>(q->device_addr() >> 32) : 0;
    case kRegShmLenLow:
    case kRegShmLenHigh:
    case kRegShmBaseLow:
    case kRegShmBaseHigh:
      // No shared memory regions: a region that does not exist has length (and base) -1.
      return 0xffffffff;
    case kRegQueueReset:
      return 0;  // VIRTIO_F_RING_RESET is not offered
    case kRegConfigGeneration:
      return config_generation_;
    default:
      return 0;  // write-only or reserved
  }
}

void VirtioMmio::write_register(uint64_t offset, uint32_t value) {
  Virtqueue* q = selected_queue();
  switch (offset) {
    case kRegDeviceFeaturesSel:
      device_features_sel_ = value;
      break;
    case kRegDriverFeatures:
      // Features are fixed once the driver set FEATURES_OK.
      if (status_ & kStatusFeaturesOk) break;
      if (driver_features_sel_ == 0) driver_features_ = set_low(driver_features_, value);
      if (driver_features_sel_ == 1) driver_features_ = set_high(driver_features_, value);
      break;
    case kRegDriverFeaturesSel:
      driver_features_sel_ = value;
      break;
    case kRegQueueSel:
      queue_sel_ = value;
      break;
    case kRegQueueNum:
      // An impossible size is kept as 0 so that QueueReady = 1 rejects it.
      if (q) q->set_size(value <= kMaxQueueSize ? static_cast<uint16_t>(value) : 0);
      break;
    case kRegQueueReady:
      write_queue_ready(value);
      break;
    case kRegInterruptAck:
      interrupt_status_ &= ~value;
      update_irq();
      break;
    case kRegStatus:
      write_status(value);
      break;
    case kRegQueueDescLow:
      if (q) q->set_desc_addr(set_low(q->desc_addr(), value));
      break;
    case kRegQueueDescHigh:
      if (q) q->set_desc_addr(set_high(q->desc_addr(), value));
      break;
    case kRegQueueDriverLow:
      if (q) q->set_driver_addr(set_low(q->driver_addr(), value));
      break;
    case kRegQueueDriverHigh:
      if (q) q->set_driver_addr(set_high(q->driver_addr(), value));
      break;
    case kRegQueueDeviceLow:
      if (q) q->set_device_addr(set_low(q->device_addr(), value));
      break;
    case kRegQueueDeviceHigh:
      if (q) q->set_device_addr(set_high(q->device_addr(), value));
      break;
    case kRegShmSel:
      shm_sel_ = value;
      break;
    default:
      TLOG_DEBUG("virtio-mmio: write {:#x} to read-only/reserved register {:#x}", value, offset);
      break;
  }
}

void VirtioMmio::write_queue_ready(uint32_t value) {
  Virtqueue* q = selected_queue();
  if (!q) return;
  if (value == 0) {
    q->disable();
    return;
  }
  if (!q->enable(driver_features_)) set_needs_reset(q->error());
}

bool VirtioMmio::features_acceptable() const {
  if (!(driver_features_ & feature_bit(kFeatureVersion1))) {
    TLOG_WARN("virtio device {}: driver did not accept VIRTIO_F_VERSION_1", device_->device_id());
    return false;
  }
  if (driver_features_ & ~offered_features()) {
    TLOG_WARN("virtio device {}: driver accepted features {:#x} that were not offered",
              device_->device_id(), driver_features_ & ~offered_features());
    return false;
  }
  return device_->accept_features(driver_features_);
}

void VirtioMmio::write_status(uint32_t value) {
  if (value == 0) {
    reset_locked();
    return;
  }
  uint32_t old = status_;
  // NEEDS_RESET belongs to the device; the driver cannot set or clear it.
  value = (value & ~kStatusNeedsReset) | (old & kStatusNeedsReset);
  if ((value & kStatusFeaturesOk) && !(old & kStatusFeaturesOk) && !features_acceptable()) {
    value &= ~kStatusFeaturesOk;  // the driver reads it back and gives up
  }
  if ((value & kStatusDriverOk) && !(value & kStatusFeaturesOk)) {
    TLOG_WARN("virtio device {}: DRIVER_OK without FEATURES_OK ignored", device_->device_id());
    value &= ~kStatusDriverOk;
  }
  status_ = value;
  if ((value & kStatusDriverOk) && !(old & kStatusDriverOk)) {
    device_->activate(driver_features_);
    // Buffers made available (and kicks sent) before DRIVER_OK were not looked at yet.
    for (uint16_t q = 0; q < queues_.size(); ++q) notify(q);
  }
}

void VirtioMmio::reset_locked() {
  status_ = 0;
  driver_features_ = 0;
  device_features_sel_ = driver_features_sel_ = queue_sel_ = shm_sel_ = 0;
  interrupt_status_ = 0;
  for (Virtqueue& q : queues_) q.reset();
  device_->reset();
  update_irq();
}

// --- Queue work ---------------------------------------------------------------------------------

void VirtioMmio::notify(uint16_t queue) {
  if (queue >= queues_.size()) return;  // queues_ never changes size: no lock needed
  if (options_.ioeventfd) {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(notify_fds_[queue].get(), &one, sizeof one);
    return;
  }
  std::weak_ptr<VirtioMmio> weak = weak_from_this();
  loop_->post([weak, queue] {
    if (auto self = weak.lock()) self->process_from_loop(queue);
  });
}

void VirtioMmio::process_from_loop(uint16_t queue) {
  std::lock_guard lock(mutex_);
  if (poller_id_ && queue < queues_.size() && loop_->will_poll()) {
    // A spin follows this kick: keep the driver's notifications off from now on, so that it
    // does not kick again for what it adds before the spin begins (its completions may reach
    // it first). The spin's end, set_polling(false), turns them back on.
    queues_[queue].set_polled(true);
  }
  process_locked(queue);
}

bool VirtioMmio::poll_queues() {
  std::lock_guard lock(mutex_);
  // Completions of the engine's poll, which runs first, become used elements in the same lock.
  bool work = !completions_.empty();
  if (work) flush_completions_locked();
  if (!running()) return work;
  for (uint16_t q = 0; q < queues_.size(); ++q) {
    if (queues_[q].available() == 0) continue;
    process_locked(q);
    work = true;
  }
  return work;
}

void VirtioMmio::set_polling(bool on) {
  std::lock_guard lock(mutex_);
  for (uint16_t q = 0; q < queues_.size(); ++q) {
    Virtqueue& queue = queues_[q];
    queue.set_polled(on);
    // Back to notifications: whatever the driver added without kicking is handled now.
    if (!on && running() && queue.enable_notifications()) process_locked(q);
  }
}

void VirtioMmio::kick(uint16_t queue) {
  std::lock_guard lock(mutex_);
  process_locked(queue);
}

void VirtioMmio::process_locked(uint16_t index) {
  if (index >= queues_.size() || !running()) return;
  Virtqueue& queue = queues_[index];
  if (!queue.ready()) return;
  queue.begin_batch();
  try {
    device_->process_queue(queue);
  } catch (const Error& e) {
    // E.g. the console backend failed: the device is broken, the VMM is not.
    set_needs_reset(e.what());
    return;
  }
  after_queue_work(queue);
  if (queue.batch_exhausted() && !queue.failed()) {
    // More work than a batch (or a ring the device's own writes keep refilling): go on from
    // the loop, after whatever else it has to do.
    std::weak_ptr<VirtioMmio> weak = weak_from_this();
    loop_->post([weak, index] {
      if (auto self = weak.lock()) self->process_from_loop(index);
    });
  }
}

void VirtioMmio::after_queue_work(Virtqueue& queue) {
  if (queue.failed()) {
    set_needs_reset(queue.error());
    return;
  }
  if (queue.needs_interrupt()) raise(kInterruptUsedBuffer);
}

void VirtioMmio::complete(const VirtqRequest& request, uint32_t written) {
  complete_request(request, written, nullptr, 0);
}

void VirtioMmio::complete_with_status(const VirtqRequest& request, uint32_t written,
                                      uint8_t status) {
  uint8_t* last = nullptr;
  if (!request.writable.empty()) {
    const iovec& seg = request.writable.back();
    last = static_cast<uint8_t*>(seg.iov_base) + seg.iov_len - 1;
  }
  complete_request(request, written, last, status);
}

void VirtioMmio::complete_request(const VirtqRequest& request, uint32_t written, uint8_t* status,
                                  uint8_t status_value) {
  if (request.queue >= queues_.size()) return;  // queues_ never changes size: no lock needed
  Completion c{status,
               request.generation,
               static_cast<uint32_t>(std::min<uint64_t>(written, request.writable_bytes)),
               request.queue,
               request.head,
               status_value};
  if (!loop_->on_loop_thread()) {
    std::lock_guard lock(mutex_);
    Virtqueue& queue = queues_[c.queue];
    if (!queue.is_current(c.generation)) return;  // from before a reset: the driver forgot it
    if (c.status) *c.status = c.status_value;
    queue.push_used(c.head, c.generation, c.written);
    if (status_ & kStatusDriverOk) after_queue_work(queue);
    return;
  }
  // A completion callback of the I/O thread: others of the same batch (one reap of the
  // completion queue) likely follow. They are pushed together, with one lock and one interrupt
  // decision (a fence, and maybe an irqfd write) per queue, when the loop's current round of
  // callbacks is over, or earlier by poll_queues().
  completions_.push_back(c);
  if (flush_posted_) return;
  flush_posted_ = true;
  std::weak_ptr<VirtioMmio> weak = weak_from_this();
  loop_->post([weak] {
    if (auto self = weak.lock()) self->flush_completions();
  });
}

void VirtioMmio::flush_completions() {
  flush_posted_ = false;
  if (completions_.empty()) return;  // poll_queues() got there first
  std::lock_guard lock(mutex_);
  flush_completions_locked();
}

void VirtioMmio::flush_completions_locked() {
  for (const Completion& c : completions_) {
    Virtqueue& queue = queues_[c.queue];
    // A reset or queue disable since the request was popped (the vCPU thread's, under this
    // lock) changed the generation: the driver forgot the request, its buffers may be reused.
    if (!queue.is_current(c.generation)) continue;
    if (c.status) *c.status = c.status_value;
    if (queue.push_used(c.head, c.generation, c.written, false)) queue_needs_check_[c.queue] = true;
  }
  completions_.clear();
  for (uint16_t q = 0; q < queues_.size(); ++q) {
    if (!queue_needs_check_[q]) continue;
    queue_needs_check_[q] = false;
    queues_[q].publish_used();
    if (status_ & kStatusDriverOk) after_queue_work(queues_[q]);
  }
}

void VirtioMmio::config_changed() {
  std::lock_guard lock(mutex_);
  ++config_generation_;
  if (status_ & kStatusDriverOk) raise(kInterruptConfigChange);
}

void VirtioMmio::set_needs_reset(const std::string& why) {
  if (status_ & kStatusNeedsReset) return;
  TLOG_WARN("virtio device {} needs reset: {}", device_->device_id(), why);
  status_ |= kStatusNeedsReset;
  if (status_ & kStatusDriverOk) raise(kInterruptConfigChange);
}

void VirtioMmio::raise(uint32_t bits) {
  interrupt_status_ |= bits;
  update_irq();
}

void VirtioMmio::update_irq() {
  bool level = interrupt_status_ != 0;
  if (level == irq_level_) return;
  irq_level_ = level;
  irq_->set_level(level);
}

// --- Snapshots -----------------------------------------------------------------------------------

VirtioState VirtioMmio::save() const {
  std::lock_guard lock(mutex_);
  VirtioState s;
  s.status = status_;
  s.driver_features = driver_features_;
  s.device_features_sel = device_features_sel_;
  s.driver_features_sel = driver_features_sel_;
  s.queue_sel = queue_sel_;
  s.interrupt_status = interrupt_status_;
  s.config_generation = config_generation_;
  for (const Virtqueue& q : queues_) s.queues.push_back(q.save());
  return s;
}

void VirtioMmio::restore(const VirtioState& s) {
  std::lock_guard lock(mutex_);
  if (s.queues.size() != queues_.size()) {
    fail("virtio device {}: snapshot has {} queues, device has {}", device_->device_id(),
         s.queues.size(), queues_.size());
  }
  status_ = s.status;
  driver_features_ = s.driver_features;
  device_features_sel_ = s.device_features_sel;
  driver_features_sel_ = s.driver_features_sel;
  queue_sel_ = s.queue_sel;
  interrupt_status_ = s.interrupt_status;
  config_generation_ = s.config_generation;
  for (size_t i = 0; i < queues_.size(); ++i) {
    if (!queues_[i].restore(s.queues[i])) set_needs_reset(queues_[i].error());
  }
  update_irq();
}

}  // namespace tandem
