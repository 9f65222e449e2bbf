#include "hw/misc/sifive_test/sifive_test.h"

#include <algorithm>

#include "base/log.h"

namespace tandem {

void SifiveTest::io_read(uint64_t, std::span<uint8_t> data) {
  std::fill(data.begin(), data.end(), 0);
}

void SifiveTest::io_write(uint64_t offset, std::span<const uint8_t> data) {
  // QEMU accepts 2- and 4-byte accesses only (OpenSBI writes 16 bits, Linux's syscon 32).
  if (offset == 0 && (data.size() == 2 || data.size() == 4)) {
    uint32_t value = 0;
    for (size_t i = 0; i < data.size(); ++i) value |= uint32_t{data[i]} << (8 * i);
    uint32_t status = value & 0xffff;
    int code = static_cast<int>(value >> 16);
    switch (status) {
      case kFail:
        control_.request_exit(code);
        return;
      case kPass:
        control_.request_exit(0);
        return;
      case kReset:
        control_.request_reset();
        return;
      default:
        break;
    }
  }
  TLOG_WARN("sifive-test: ignored {}-byte write at {:#x}", data.size(), offset);
}

}  // namespace tandem
