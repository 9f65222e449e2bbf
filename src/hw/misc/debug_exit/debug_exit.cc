#include "hw/misc/debug_exit/debug_exit.h"

#include <algorithm>

#include "base/log.h"

namespace tandem {

void DebugExit::io_read(uint64_t, std::span<uint8_t> data) {
  std::fill(data.begin(), data.end(), 0);
}

void DebugExit::io_write(uint64_t offset, std::span<const uint8_t> data) {
  // QEMU accepts 1..4-byte accesses; the value is the little-endian access, whatever the offset.
  uint64_t value = 0;
  size_t width = std::min<size_t>(data.size(), 4);
  for (size_t i = 0; i < width; ++i) value |= uint64_t{data[i]} << (8 * i);
  TLOG_INFO("isa-debug-exit: guest wrote {:#x} (offset {}), exit status {}", value, offset,
            exit_status(value));
  control_.request_exit(exit_status(value));
}

}  // namespace tandem
