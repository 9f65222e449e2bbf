#include "block/open_drive.h"

#include "base/error.h"
#include "block/raw_driver.h"

namespace tandem {

std::unique_ptr<BlockDriver> open_block_driver(const DriveConfig& drive, EventLoop& loop) {
  if (drive.file.empty()) fail("drive '{}': no image file given (file=...)", drive.id);
  if (drive.format != "raw") {
    fail("drive '{}': unsupported image format '{}' (supported: raw)", drive.id, drive.format);
  }
  RawDriver::Options options;
  options.read_only = drive.readonly;
  options.cache = parse_cache_mode(drive.cache);
  options.aio = parse_aio_mode(drive.aio);
  return RawDriver::open(drive.file, options, loop);
}

}  // namespace tandem
