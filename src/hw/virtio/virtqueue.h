// The split virtqueue of virtio 1.2 (section 2.7), seen from the device: the driver places a
// descriptor table, an available ring and a used ring in guest RAM; the device pops descriptor
// chains from the available ring and returns them through the used ring.
//
// Everything in guest memory is untrusted. A malformed ring (addresses outside RAM, lengths that
// wrap, looping or over-long chains, nested indirect tables, an available index that runs ahead
// by more than the queue size...) never makes the device touch host memory outside guest RAM:
// the queue records an error and stops; the transport turns that into DEVICE_NEEDS_RESET.
//
// Threading: a queue is used by one thread at a time (the transport's lock); the driver runs
// concurrently on vCPU threads, so ring accesses use acquire/release ordering.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "memory/guest_ram.h"

namespace tandem {

// One descriptor chain popped from the available ring. The device reads the readable segments
// (driver -> device) and fills the writable ones (device -> driver). The segments are host
// pointers into guest RAM, valid as long as the RAM: a device may keep a request and complete it
// later (asynchronous I/O, out of order) through Virtqueue::push / VirtioTransport::complete.
struct VirtqRequest {
  uint16_t queue = 0;       // index of the queue it came from
  uint16_t head = 0;        // descriptor id that goes back in the used element
  uint64_t generation = 0;  // queue incarnation; completions from before a reset are dropped
  std::vector<iovec> readable;
  std::vector<iovec> writable;
  uint64_t readable_bytes = 0;
  uint64_t writable_bytes = 0;

  // Gathers readable bytes from `offset` on into out; returns how many were copied.
  size_t read(uint64_t offset, std::span<uint8_t> out) const;
  // Scatters `in` into the writable segments from `offset` on; returns how many were copied.
  size_t write(uint64_t offset, std::span<const uint8_t> in) const;
};

// The state a snapshot needs to bring a queue back (the rings themselves live in guest RAM).
struct VirtqueueState {
  uint16_t size = 0;
  bool ready = false;
  uint64_t desc_addr = 0;
  uint64_t driver_addr = 0;  // available ring
  uint64_t device_addr = 0;  // used ring
  uint64_t features = 0;
  uint16_t last_avail_idx = 0;
  uint16_t used_idx = 0;
  uint16_t signalled_used = 0;
  bool signalled_used_valid = false;
  bool notifications_disabled = false;
};

class Virtqueue {
 public:
  Virtqueue(const GuestRam& ram, uint16_t index, uint16_t num_max);
  Virtqueue(const Virtqueue&) = delete;
  Virtqueue& operator=(const Virtqueue&) = delete;
  Virtqueue(Virtqueue&&) = default;

  uint16_t index() const { return index_; }
  uint16_t num_max() const { return num_max_; }

  // --- Driver-side set-up (transport registers). Ignored while the queue is ready. ---
  void set_size(uint16_t size);
  void set_desc_addr(uint64_t gpa);
  void set_driver_addr(uint64_t gpa);
  void set_device_addr(uint64_t gpa);
  uint16_t size() const { return size_; }
  uint64_t desc_addr() const { return desc_addr_; }
  uint64_t driver_addr() const { return driver_addr_; }
  uint64_t device_addr() const { return device_addr_; }

  // Validates the layout (size a power of two <= num_max, aligned rings wholly in RAM) and makes
  // the queue live with the negotiated `features`. On failure returns false and sets error().
  bool enable(uint64_t features);
  // Stops using the rings (QueueReady = 0); requests popped earlier can no longer be completed.
  void disable();
  // Back to the power-on state (device reset).
  void reset();
  bool ready() const { return ready_; }

  // Set once the driver handed the device something malformed; the queue then stays dead until
  // reset. The transport reports it as DEVICE_NEEDS_RESET.
  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }

  // --- Device side. ---
  // The next available chain, or nullopt when the ring is empty, the queue not ready, or the
  // ring malformed (then failed() is true).
  std::optional<VirtqRequest> pop();
  // The same into `out`, reusing its vectors (no allocation once they have grown); returns
  // false, leaving `out` unspecified, where pop() returns nullopt.
  bool pop_into(VirtqRequest& out);
  // Returns the chain through the used ring with `written` bytes written into its writable
  // segments (clamped to what it has). Returns false, doing nothing, for a request from before
  // the last reset/disable.
  bool push(const VirtqRequest& request, uint32_t written);
  // The same for a request known by its head and generation (VirtqRequest's), with `written`
  // clamped by the caller already. With publish=false the element is written but the used index
  // is not: the caller pushes a batch and then calls publish_used() once. The driver polls that
  // index from another CPU, and a store per element would pull its cache line back each time.
  bool push_used(uint16_t head, uint64_t generation, uint32_t written, bool publish = true);
  // Makes every element pushed so far visible to the driver (stores the used index).
  void publish_used();
  // Whether a request popped in `generation` may still be completed (no reset or disable since).
  bool is_current(uint64_t generation) const { return ready_ && generation == generation_; }
  // True if the driver wants a used-buffer notification for what was pushed since the last call
  // (VIRTIO_F_EVENT_IDX's used_event, else VIRTQ_AVAIL_F_NO_INTERRUPT).
  bool needs_interrupt();
  // Asks the driver not to notify the device (while the device is draining the ring anyway).
  void disable_notifications();
  // Asks for notifications again; returns true if buffers arrived meanwhile, so that the caller
  // drains again instead of missing them.
  bool enable_notifications();
  // Chains the driver made available that have not been popped yet (0 if not ready or failed).
  uint16_t available();
  // Starts loading the descriptors and first buffers of up to kPrefetchChains chains waiting
  // to be popped, walking them side by side: the driver wrote them on another CPU, and walking
  // one chain after another would wait for each of their cache lines in turn. Only reads, only
  // inside the table and RAM; whatever is malformed is left for pop_into() to report.
  static constexpr unsigned kPrefetchChains = 32;
  void prefetch_available();
  // While the transport busy-polls this ring, driver notifications stay off:
  // enable_notifications() only reports whether buffers are waiting. Turning polling off leaves
  // notifications off too; the caller then calls enable_notifications().
  void set_polled(bool polled) {
    polled_ = polled;
    if (polled) disable_notifications();
  }

  // A batch of work: pop() hands out at most kBatchPerEntry * size chains per batch, then
  // nothing (and enable_notifications() says "nothing new") until the next begin_batch(). A
  // driver whose device writes refill the ring (rings overlapping data buffers) cannot keep
  // the I/O thread busy forever: the transport starts another batch from its loop later.
  static constexpr uint32_t kBatchPerEntry = 4;
  void begin_batch() {
    budget_ = kBatchPerEntry * size_;
    batch_exhausted_ = false;
  }
  // Whether the last batch ended for lack of budget (work may remain).
  bool batch_exhausted() const { return batch_exhausted_; }

  VirtqueueState save() const;
  // Restores a saved state; re-validates the layout against guest RAM. Returns false (with
  // error()) if the saved rings do not fit.
  bool restore(const VirtqueueState& state);

 private:
  bool fail(std::string message);
  bool load_avail_idx(uint16_t* out);
  bool walk_chain(uint16_t head, VirtqRequest& request);
  bool add_segment(uint64_t gpa, uint32_t len, bool writable, VirtqRequest& request);

  const GuestRam* ram_;
  uint16_t index_;
  uint16_t num_max_;

  uint16_t size_;
  uint64_t desc_addr_ = 0;
  uint64_t driver_addr_ = 0;
  uint64_t device_addr_ = 0;
  uint64_t features_ = 0;
  bool ready_ = false;
  bool event_idx_ = false;
  bool indirect_ = false;
  uint64_t generation_ = 0;
  std::string error_;

  // Host views of the rings, resolved once in enable(): RAM regions never move.
  uint8_t* desc_ = nullptr;
  uint8_t* avail_ = nullptr;
  uint8_t* used_ = nullptr;

  uint16_t last_avail_idx_ = 0;    // next available entry to pop
  uint16_t shadow_avail_idx_ = 0;  // the driver's avail idx as last read (and validated)
  uint16_t used_idx_ = 0;          // our used idx (in the ring once published)
  uint16_t signalled_used_ = 0;    // used idx at the last interrupt decision (EVENT_IDX)
  bool signalled_used_valid_ = false;
  bool pushed_since_check_ = false;
  bool notifications_disabled_ = false;
  bool polled_ = false;
  uint32_t budget_ = 0;
  bool batch_exhausted_ = false;
};

}  // namespace tandem
