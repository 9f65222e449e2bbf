// How the interpreter reaches guest memory: a permission-checked translation from a guest
// virtual address range to host memory. User mode implements it over its address-space
// window (src/user); a full-system machine would implement it with its MMU.
#pragma once

#include <cstdint>

namespace tandem::riscv {

enum class Access : uint8_t { kRead, kWrite, kExec };

class GuestMemory {
 public:
  virtual ~GuestMemory() = default;
  // Host pointer to the guest bytes [addr, addr + len) when every byte is mapped with the
  // permission `access` needs, else nullptr. The bytes are contiguous on the host.
  virtual uint8_t* translate(uint64_t addr, uint64_t len, Access access) = 0;
};

}  // namespace tandem::riscv
