#include "block/uring_io.h"

#include <cerrno>
#include <cstdint>

#include "base/error.h"
#include "base/log.h"

namespace tandem {

UringIo::UringIo(EventLoop& loop, unsigned entries) : AsyncIo(loop) {
  int r = io_uring_queue_init(entries, &ring_, 0);
  if (r < 0) {
    errno = -r;
    fail_errno("io_uring_queue_init");
  }
  capacity_ = ring_.sq.ring_entries;
  // IORING_OP_READ/WRITE came with Linux 5.6, as did the probe; without a probe, vectored only.
  if (io_uring_probe* probe = io_uring_get_probe_ring(&ring_)) {
    plain_rw_ = io_uring_opcode_supported(probe, IORING_OP_READ) &&
                io_uring_opcode_supported(probe, IORING_OP_WRITE);
    io_uring_free_probe(probe);
  }
  r = io_uring_register_eventfd(&ring_, event_fd());
  if (r < 0) {
    io_uring_queue_exit(&ring_);
    errno = -r;
    fail_errno("io_uring_register_eventfd");
  }
  start_polling();
}

UringIo::~UringIo() {
  shutdown();
  io_uring_queue_exit(&ring_);
}

void UringIo::start_locked(IoRequest* r) {
  if (in_kernel_ >= capacity_ || !backlog_.empty()) {
    backlog_.push_back(r);
    return;
  }
  issue_locked(r);
  if (!plugged_locked()) submit_ring_locked();
}

void UringIo::flush_locked() {
  if (io_uring_sq_ready(&ring_) > 0) submit_ring_locked();
}

bool UringIo::engine_has_completions() const {
  // The kernel moves the tail, we (under the lock, maybe on another thread) the head: atomic
  // loads of both, no lock. A stale answer only delays a completion to the next look.
  unsigned head = __atomic_load_n(ring_.cq.khead, __ATOMIC_RELAXED);
  unsigned tail = __atomic_load_n(ring_.cq.ktail, __ATOMIC_ACQUIRE);
  return head != tail;
}

void UringIo::issue_locked(IoRequest* r) {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (!sqe) {
    // Cannot happen while in_kernel_ <= capacity_ and every SQE is submitted at once; keep the
    // operation for later rather than lose it.
    backlog_.push_front(r);
    return;
  }
  // One buffer (a 4 KiB guest read, say): the plain READ/WRITE opcodes (Linux 5.6), which spare
  // the kernel importing an iovec array for every request.
  const bool one_buffer = plain_rw_ && r->iov_count == 1 && r->iov[0].iov_len <= UINT32_MAX;
  switch (r->kind) {
    case IoOp::Kind::kRead:
      if (one_buffer) {
        io_uring_prep_read(sqe, r->fd, r->iov[0].iov_base, static_cast<unsigned>(r->iov[0].iov_len),
                           r->offset);
      } else {
        io_uring_prep_readv(sqe, r->fd, r->iov, static_cast<unsigned>(r->iov_count), r->offset);
      }
      break;
    case IoOp::Kind::kWrite:
      if (one_buffer) {
        io_uring_prep_write(sqe, r->fd, r->iov[0].iov_base,
                            static_cast<unsigned>(r->iov[0].iov_len), r->offset);
      } else {
        io_uring_prep_writev(sqe, r->fd, r->iov, static_cast<unsigned>(r->iov_count), r->offset);
      }
      break;
    case IoOp::Kind::kFdatasync:
      io_uring_prep_fsync(sqe, r->fd, IORING_FSYNC_DATASYNC);
      break;
    case IoOp::Kind::kFallocate:
      io_uring_prep_fallocate(sqe, r->fd, r->mode, r->offset, r->length);
      break;
  }
  io_uring_sqe_set_data(sqe, r);
  ++in_kernel_;
}

void UringIo::submit_ring_locked() {
  for (;;) {
    int r = io_uring_submit(&ring_);
    ++stats_.submit_calls;
    if (r >= 0 || (r != -EINTR && r != -EAGAIN)) {
      // Any other failure leaves the SQEs in the ring; the next submit retries them.
      if (r < 0) TLOG_WARN("io_uring_submit: {}", r);
      return;
    }
  }
}

void UringIo::complete_cqe_locked(io_uring_cqe* cqe) {
  auto* r = static_cast<IoRequest*>(io_uring_cqe_get_data(cqe));
  int64_t result = cqe->res;
  io_uring_cqe_seen(&ring_, cqe);
  --in_kernel_;
  finish_locked(r, result);
}

void UringIo::reap_locked() {
  io_uring_cqe* cqe;
  while (io_uring_peek_cqe(&ring_, &cqe) == 0) complete_cqe_locked(cqe);
  bool issued = false;
  while (!backlog_.empty() && in_kernel_ < capacity_) {
    IoRequest* r = backlog_.front();
    backlog_.pop_front();
    issue_locked(r);
    issued = true;
  }
  if (issued || io_uring_sq_ready(&ring_) > 0) submit_ring_locked();
}

void UringIo::cancel_locked(std::unique_lock<std::mutex>&) {
  while (!backlog_.empty()) {
    finish_locked(backlog_.front(), -ECANCELED);
    backlog_.pop_front();
  }
  // Operations in the kernel cannot be taken back from a regular file; wait for them. The lock
  // stays held: the loop thread only waits for it, and the CQEs are ours to reap here.
  if (io_uring_sq_ready(&ring_) > 0) submit_ring_locked();
  while (in_kernel_ > 0) {
    io_uring_cqe* cqe;
    int r = io_uring_wait_cqe(&ring_, &cqe);
    if (r == -EINTR || r == -EAGAIN) continue;
    if (r < 0) {
      TLOG_ERROR("io_uring_wait_cqe: {}", r);
      return;
    }
    complete_cqe_locked(cqe);
  }
}

}  // namespace tandem
