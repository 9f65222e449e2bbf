// From a drive's command-line options (DriveConfig) to an open BlockDriver.
#pragma once

#include <memory>

#include "block/block_driver.h"
#include "machine/machine_config.h"

namespace tandem {

class EventLoop;

// Opens drive.file with the drive's format, readonly, cache and aio options; completions arrive
// on `loop` (the I/O thread's). Throws Error with a one-line message (bad option value, missing
// file, directory, image locked by another process...).
std::unique_ptr<BlockDriver> open_block_driver(const DriveConfig& drive, EventLoop& loop);

}  // namespace tandem
