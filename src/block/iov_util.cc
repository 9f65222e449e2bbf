#include "block/iov_util.h"

#include <algorithm>
#include <cstring>

namespace tandem {

std::optional<uint64_t> iov_total(std::span<const iovec> iov) {
  uint64_t total = 0;
  for (const iovec& v : iov) {
    if (v.iov_len > UINT64_MAX - total) return std::nullopt;
    total += v.iov_len;
  }
  return total;
}

namespace {

template <typename Fn>
size_t walk(std::span<const iovec> iov, uint64_t offset, size_t n, Fn fn) {
  size_t done = 0;
  for (const iovec& v : iov) {
    if (done == n) break;
    if (offset >= v.iov_len) {
      offset -= v.iov_len;
      continue;
    }
    size_t len = std::min<uint64_t>(v.iov_len - offset, n - done);
    fn(static_cast<uint8_t*>(v.iov_base) + offset, done, len);
    done += len;
    offset = 0;
  }
  return done;
}

}  // namespace

size_t copy_to_iov(std::span<const iovec> iov, uint64_t offset, const uint8_t* src, size_t n) {
  return walk(iov, offset, n,
              [src](uint8_t* p, size_t at, size_t len) { std::memcpy(p, src + at, len); });
}

size_t copy_from_iov(std::span<const iovec> iov, uint64_t offset, uint8_t* dst, size_t n) {
  return walk(iov, offset, n,
              [dst](uint8_t* p, size_t at, size_t len) { std::memcpy(dst + at, p, len); });
}

void iov_advance(std::span<const iovec> iov, size_t& index, size_t& skip, uint64_t n) {
  while (n > 0 && index < iov.size()) {
    const uint64_t left = iov[index].iov_len - skip;
    if (n < left) {
      skip += n;
      return;
    }
    n -= left;
    ++index;
    skip = 0;
  }
}

std::span<const iovec> iov_rest(std::span<const iovec> iov, size_t index, size_t skip, size_t max,
                                std::vector<iovec>& scratch) {
  if (index == 0 && skip == 0 && iov.size() <= max) return iov;
  scratch.clear();
  for (size_t i = index; i < iov.size() && scratch.size() < max; ++i) {
    iovec v = iov[i];
    if (i == index) {
      v.iov_base = static_cast<uint8_t*>(v.iov_base) + skip;
      v.iov_len -= skip;
    }
    if (v.iov_len > 0) scratch.push_back(v);
  }
  return scratch;
}

void iov_zero_rest(std::span<const iovec> iov, size_t index, size_t skip) {
  for (size_t i = index; i < iov.size(); ++i) {
    const size_t from = i == index ? skip : 0;
    std::memset(static_cast<uint8_t*>(iov[i].iov_base) + from, 0, iov[i].iov_len - from);
  }
}

void IovTransfer::advance(uint64_t done) {
  const uint64_t n = std::min(done, remaining);
  offset += n;
  remaining -= n;
  iov_advance(iov, index, skip, n);
}

}  // namespace tandem
