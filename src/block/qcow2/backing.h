// Opening the images below a qcow2 image: read-only, raw or qcow2 (named by the backing format
// header extension, else probed), to any depth, refusing loops.
#pragma once

#include <memory>
#include <string>

#include "block/block_options.h"
#include "block/qcow2/sync_image.h"

namespace tandem::qcow2 {

struct BackingChain;

// A relative backing file name is relative to the directory of the image that names it.
std::string resolve_backing_path(const std::string& image_path, const std::string& backing_name);

// Opens `path` read-only as `format` ("raw", "qcow2", or "" to probe). Throws Error naming the
// file: missing, unsupported format, a loop (the file is already in `chain`), or any qcow2 error.
std::unique_ptr<SyncImage> open_backing_image(const std::string& path, const std::string& format,
                                              CacheMode cache, BackingChain& chain);

}  // namespace tandem::qcow2
