#include "block/thread_pool_io.h"

#include <cerrno>

namespace tandem {

ThreadPoolIo::ThreadPoolIo(EventLoop& loop, unsigned threads) : AsyncIo(loop) {
  threads_.reserve(threads);
  try {
    for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { worker(); });
  } catch (...) {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    work_cv_.notify_all();
    for (std::thread& t : threads_) t.join();
    throw;
  }
  start_polling();
}

ThreadPoolIo::~ThreadPoolIo() {
  shutdown();
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void ThreadPoolIo::start_locked(IoRequest* r) {
  queue_.push_back(r);
  work_cv_.notify_one();
}

void ThreadPoolIo::cancel_locked(std::unique_lock<std::mutex>& lock) {
  while (!queue_.empty()) {
    finish_locked(queue_.front(), -ECANCELED);
    queue_.pop_front();
  }
  idle_cv_.wait(lock, [this] { return running_ == 0; });
}

void ThreadPoolIo::worker() {
  std::unique_lock lock(mutex_);
  for (;;) {
    work_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    IoRequest* r = queue_.front();
    queue_.pop_front();
    ++running_;
    lock.unlock();
    int64_t result = run_io_op(*r);
    lock.lock();
    --running_;
    finish_locked(r, result);
    if (running_ == 0) idle_cv_.notify_all();
    wake();
  }
}

}  // namespace tandem
