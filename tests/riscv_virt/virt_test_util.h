// Helpers shared by the virt machine's in-process tests.
#pragma once

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include "machine/riscv/virt_machine.h"

namespace tandem::riscv::testing {

inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs the machine with a time limit; 124 when it had to be stopped.
inline int run_with_timeout(VirtMachine& machine, std::chrono::seconds limit) {
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  std::thread watchdog([&] {
    std::unique_lock lock(m);
    if (!cv.wait_for(lock, limit, [&] { return done; })) machine.request_exit(124);
  });
  const int status = machine.run();
  {
    std::lock_guard lock(m);
    done = true;
  }
  cv.notify_all();
  watchdog.join();
  return status;
}

}  // namespace tandem::riscv::testing
