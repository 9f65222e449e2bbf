// Decompression of qcow2 compressed clusters: raw deflate (zlib without header, as QEMU writes
// it) or a zstd frame. The stored data may be followed by unrelated bytes (the rest of its last
// sector); decompression stops once it has produced one cluster.
#pragma once

#include <cstdint>
#include <span>

namespace tandem::qcow2 {

// Fills `out` (exactly one cluster) from `in`. Returns 0, or -EIO if the data is not a valid
// stream of the type or does not produce a whole cluster.
int decompress_cluster(uint8_t compression_type, std::span<const uint8_t> in,
                       std::span<uint8_t> out);

}  // namespace tandem::qcow2
