// Test-only flat guest memory: guest addresses [0, size) at base(); fully readable, writable
// and executable. Used by the back-end, differential and self-modifying-code tests.
#pragma once

#include <sys/mman.h>

#include <cstdint>
#include <cstring>

#include "base/mapping.h"
#include "target/riscv/cpu_state.h"
#include "target/riscv/guest_memory.h"

namespace tandem::tcg::testing {

class FlatMemory : public riscv::GuestMemory {
 public:
  explicit FlatMemory(size_t size)
      // One extra PROT_NONE page: accesses straddling the end fault like the user-mode window.
      : map_(Mapping::anonymous(size + 4096)), size_(size) {
    ::mprotect(map_.data() + size, 4096, PROT_NONE);
  }
  uint8_t* translate(uint64_t addr, uint64_t len, riscv::Access) override {
    if (len > size_ || addr > size_ - len) return nullptr;
    return map_.data() + addr;
  }
  uint8_t* base() const { return map_.data(); }
  size_t size() const { return size_; }
  void attach(riscv::CpuState& cpu) const {
    cpu.guest_base = map_.data();
    cpu.guest_limit = size_;
  }
  void write32(uint64_t addr, uint32_t v) { std::memcpy(map_.data() + addr, &v, 4); }

 private:
  Mapping map_;
  size_t size_;
};

}  // namespace tandem::tcg::testing
