// AsyncIo on a small pool of worker threads doing the plain system calls (QEMU's aio=threads):
// the fallback when io_uring is unavailable, and a mode of its own.
#pragma once

#include <condition_variable>
#include <deque>
#include <thread>
#include <vector>

#include "block/async_io.h"

namespace tandem {

class ThreadPoolIo final : public AsyncIo {
 public:
  static constexpr unsigned kDefaultThreads = 4;

  explicit ThreadPoolIo(EventLoop& loop, unsigned threads = kDefaultThreads);
  ~ThreadPoolIo() override;
  const char* name() const override { return "threads"; }

 private:
  void start_locked(IoRequest* r) override;
  void reap_locked() override {}  // workers finish operations themselves
  void cancel_locked(std::unique_lock<std::mutex>& lock) override;

  void worker();

  std::condition_variable work_cv_;  // queue_ gained an operation, or stopping_
  std::condition_variable idle_cv_;  // running_ dropped
  std::deque<IoRequest*> queue_;
  unsigned running_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace tandem
