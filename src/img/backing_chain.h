// The files of an image's backing chain, found by reading each qcow2 header in turn (without
// opening the chain as a whole, so that commit can then open one layer read-write).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace tandem::img {

struct ChainLayer {
  std::string path;    // as opened (backing names resolved against the image above)
  std::string format;  // "raw" or "qcow2"
  dev_t dev = 0;
  ino_t ino = 0;
};

// `path` (format given or probed) and everything below it, top first. Throws Error for a missing
// file, a format Tandem cannot open, or a loop (naming the files around it). With
// `allow_missing`, a backing file that does not exist ends the chain instead.
std::vector<ChainLayer> backing_chain(const std::string& path, const std::string& format,
                                      bool allow_missing = false);

}  // namespace tandem::img
