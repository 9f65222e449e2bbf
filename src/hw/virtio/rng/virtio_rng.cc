#include "hw/virtio/rng/virtio_rng.h"

#include <errno.h>
#include <sys/random.h>

#include <algorithm>
#include <cstring>

#include "base/error.h"
#include "hw/virtio/virtio_defs.h"

namespace tandem {

namespace {

// Fills [p, p+len) from the host's entropy pool. Throws SystemError if getrandom fails.
void fill_random(uint8_t* p, size_t len) {
  while (len > 0) {
    ssize_t n = ::getrandom(p, len, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_errno("getrandom");
    }
    p += n;
    len -= static_cast<size_t>(n);
  }
}

}  // namespace

uint32_t VirtioRng::device_id() const {
  return virtio::kDeviceIdEntropy;
}

void VirtioRng::read_config(uint64_t, std::span<uint8_t> data) {
  std::memset(data.data(), 0, data.size());
}

void VirtioRng::process_queue(Virtqueue& queue) {
  do {
    queue.disable_notifications();
    while (auto request = queue.pop()) {
      uint64_t budget = kMaxBytesPerRequest;
      uint32_t written = 0;
      for (const iovec& seg : request->writable) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(seg.iov_len, budget));
        if (n == 0) break;
        fill_random(static_cast<uint8_t*>(seg.iov_base), n);
        budget -= n;
        written += static_cast<uint32_t>(n);
      }
      queue.push(*request, written);
    }
  } while (queue.enable_notifications());
}

}  // namespace tandem
