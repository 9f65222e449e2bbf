// Opening a raw image (a regular file or a block device) the way a drive's options ask: read-only
// or read-write, through the page cache or with O_DIRECT, locked against other users.
#pragma once

#include <cstdint>
#include <string>

#include "base/unique_fd.h"
#include "block/block_options.h"

namespace tandem {

struct RawFile {
  UniqueFd fd;
  uint64_t size = 0;
  // O_DIRECT's demands (1 and 1 for buffered I/O): buffer addresses must be multiples of
  // mem_align; file offsets and every buffer length multiples of offset_align.
  uint32_t mem_align = 1;
  uint32_t offset_align = 1;
};

// Throws Error with a one-line message naming the file when it is missing, a directory, not
// writable (without read_only), locked by another user, or refuses O_DIRECT.
RawFile open_raw_file(const std::string& path, bool read_only, CacheMode cache);

}  // namespace tandem
