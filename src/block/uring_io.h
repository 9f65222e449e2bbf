// AsyncIo on io_uring (liburing). Submissions go straight into the ring; when the ring already
// holds as many operations as it has slots, further ones wait in a user-space queue until
// completions make room, so neither the submission nor the completion ring can overflow.
// Completions are announced through an eventfd registered with the ring, and found by the loop's
// poller straight in the completion ring. While plugged, operations only fill SQEs; unplug()
// submits them with one io_uring_enter.
#pragma once

#include <liburing.h>

#include <deque>

#include "block/async_io.h"

namespace tandem {

class UringIo final : public AsyncIo {
 public:
  // Throws SystemError if the kernel refuses the ring.
  UringIo(EventLoop& loop, unsigned entries);
  ~UringIo() override;
  const char* name() const override { return "io_uring"; }

 private:
  void start_locked(IoRequest* r) override;
  void reap_locked() override;
  void cancel_locked(std::unique_lock<std::mutex>& lock) override;
  void flush_locked() override;
  bool engine_has_completions() const override;

  void issue_locked(IoRequest* r);
  void submit_ring_locked();
  void complete_cqe_locked(io_uring_cqe* cqe);

  io_uring ring_{};
  unsigned capacity_;
  unsigned in_kernel_ = 0;
  bool plain_rw_ = false;  // the kernel has IORING_OP_READ/WRITE (single-buffer operations)
  std::deque<IoRequest*> backlog_;
};

}  // namespace tandem
