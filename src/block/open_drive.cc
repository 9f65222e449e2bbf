#include "block/open_drive.h"

#include <fmt/core.h>

#include <cstdio>

#include "base/error.h"
#include "block/qcow2/format_probe.h"
#include "block/qcow2/qcow2_driver.h"
#include "block/raw_driver.h"

namespace tandem {

std::unique_ptr<BlockDriver> open_block_driver(const DriveConfig& drive, EventLoop& loop) {
  if (drive.file.empty()) fail("drive '{}': no image file given (file=...)", drive.id);
  CacheMode cache = parse_cache_mode(drive.cache);
  AioMode aio = parse_aio_mode(drive.aio);
  std::string format = drive.format;
  if (format.empty()) {
    // No format given: guess it from the image's first bytes, as QEMU does.
    format = probe_image_format(drive.file);
    if (format == "raw") {
      fmt::print(stderr,
                 "WARNING: Image format was not specified for '{}' and probing guessed raw.\n"
                 "         Automatically detecting the format is dangerous for raw images: a "
                 "guest that writes a qcow2 header into block 0 changes how the image opens "
                 "next time.\n"
                 "         Specify the 'raw' format explicitly to remove this warning.\n",
                 drive.file);
    }
  }
  if (format == "raw") {
    RawDriver::Options options;
    options.read_only = drive.readonly;
    options.cache = cache;
    options.aio = aio;
    return RawDriver::open(drive.file, options, loop);
  }
  if (format == "qcow2") {
    // aio= carries the data transfers of reads and writes to allocated clusters (qcow2_driver.h).
    Qcow2Driver::Options options;
    options.read_only = drive.readonly;
    options.cache = cache;
    options.aio = aio;
    return Qcow2Driver::open(drive.file, options, loop);
  }
  fail("drive '{}': unsupported image format '{}' (supported: raw, qcow2)", drive.id, format);
}

}  // namespace tandem
