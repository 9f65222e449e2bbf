// How a drive's image is opened: QEMU's cache= and aio= modes.
#pragma once

#include <string_view>

namespace tandem {

// QEMU's cache= modes: whether the host page cache is used (O_DIRECT when not), whether the
// guest sees a volatile write cache (flushes it with fdatasync), or whether flushes are ignored.
enum class CacheMode {
  kWriteback,     // page cache, flush = fdatasync (the default)
  kWritethrough,  // page cache, every write durable (O_DSYNC)
  kNone,          // O_DIRECT, flush = fdatasync
  kDirectsync,    // O_DIRECT, every write durable (O_DSYNC)
  kUnsafe,        // page cache, flush does nothing
};

// QEMU's aio= modes: how requests reach the host.
enum class AioMode {
  kIoUring,  // io_uring (falls back to threads when the kernel refuses a ring)
  kThreads,  // a pool of worker threads doing preadv/pwritev/fdatasync/fallocate
};

// Throw Error naming the bad value and the accepted ones.
CacheMode parse_cache_mode(std::string_view name);
AioMode parse_aio_mode(std::string_view name);

const char* to_string(CacheMode mode);
const char* to_string(AioMode mode);

inline bool uses_o_direct(CacheMode mode) {
  return mode == CacheMode::kNone || mode == CacheMode::kDirectsync;
}
inline bool uses_o_dsync(CacheMode mode) {
  return mode == CacheMode::kWritethrough || mode == CacheMode::kDirectsync;
}

}  // namespace tandem
