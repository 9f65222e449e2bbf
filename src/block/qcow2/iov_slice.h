// Sub-ranges of iovec lists, for requests that the qcow2 driver splits at cluster boundaries.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace tandem::qcow2 {

// Appends to `out` the buffers covering bytes [offset, offset+length) of `iov`.
inline void iov_slice(std::span<const iovec> iov, uint64_t offset, uint64_t length,
                      std::vector<iovec>& out) {
  for (const iovec& v : iov) {
    if (length == 0) break;
    if (offset >= v.iov_len) {
      offset -= v.iov_len;
      continue;
    }
    uint64_t n = v.iov_len - offset;
    if (n > length) n = length;
    out.push_back({static_cast<uint8_t*>(v.iov_base) + offset, n});
    length -= n;
    offset = 0;
  }
}

inline std::vector<iovec> iov_slice(std::span<const iovec> iov, uint64_t offset, uint64_t length) {
  std::vector<iovec> out;
  iov_slice(iov, offset, length, out);
  return out;
}

inline void iov_zero(std::span<const iovec> iov) {
  for (const iovec& v : iov) std::memset(v.iov_base, 0, v.iov_len);
}

}  // namespace tandem::qcow2
