#include "block/block_options.h"

#include "base/error.h"

namespace tandem {

CacheMode parse_cache_mode(std::string_view name) {
  if (name == "writeback") return CacheMode::kWriteback;
  if (name == "writethrough") return CacheMode::kWritethrough;
  if (name == "none") return CacheMode::kNone;
  if (name == "directsync") return CacheMode::kDirectsync;
  if (name == "unsafe") return CacheMode::kUnsafe;
  fail("invalid cache mode '{}' (expected writeback, writethrough, none, directsync or unsafe)",
       name);
}

AioMode parse_aio_mode(std::string_view name) {
  if (name == "io_uring") return AioMode::kIoUring;
  if (name == "threads") return AioMode::kThreads;
  fail("invalid aio mode '{}' (expected io_uring or threads)", name);
}

const char* to_string(CacheMode mode) {
  switch (mode) {
    case CacheMode::kWriteback:
      return "writeback";
    case CacheMode::kWritethrough:
      return "writethrough";
    case CacheMode::kNone:
      return "none";
    case CacheMode::kDirectsync:
      return "directsync";
    case CacheMode::kUnsafe:
      return "unsafe";
  }
  return "?";
}

const char* to_string(AioMode mode) {
  return mode == AioMode::kIoUring ? "io_uring" : "threads";
}

}  // namespace tandem
