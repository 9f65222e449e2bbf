// A HartInterruptSink for tests: records each hart's mip bits and every call.
#pragma once

#include <map>
#include <mutex>
#include <tuple>
#include <vector>

#include "hw/riscv/hart_irq.h"

namespace tandem::riscv {

class FakeHartSink : public HartInterruptSink {
 public:
  void set_pending(unsigned hart, unsigned irq_bit, bool level) override {
    std::lock_guard lock(mutex_);
    calls.emplace_back(hart, irq_bit, level);
    bits[{hart, irq_bit}] = level;
  }
  bool level(unsigned hart, unsigned irq_bit) {
    std::lock_guard lock(mutex_);
    auto it = bits.find({hart, irq_bit});
    return it != bits.end() && it->second;
  }
  size_t call_count() {
    std::lock_guard lock(mutex_);
    return calls.size();
  }

  std::vector<std::tuple<unsigned, unsigned, bool>> calls;
  std::map<std::pair<unsigned, unsigned>, bool> bits;

 private:
  std::mutex mutex_;
};

}  // namespace tandem::riscv
