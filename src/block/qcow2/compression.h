// Decompression of qcow2 compressed clusters: raw deflate (zlib without header, as QEMU writes
// it) or a zstd frame. The stored data may be followed by unrelated bytes (the rest of its last
// sector); decompression stops once it has produced one cluster.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <span>

namespace tandem::qcow2 {

// Fills `out` (exactly one cluster) from `in`. Returns 0, or -EIO if the data is not a valid
// stream of the type or does not produce a whole cluster.
int decompress_cluster(uint8_t compression_type, std::span<const uint8_t> in,
                       std::span<uint8_t> out);

// Compresses clusters as QEMU writes them: raw deflate (zlib, 4 KiB window) or one zstd frame.
// Keeps its compression context between calls; one per thread.
class ClusterCompressor {
 public:
  explicit ClusterCompressor(uint8_t compression_type);
  ~ClusterCompressor();
  ClusterCompressor(const ClusterCompressor&) = delete;
  ClusterCompressor& operator=(const ClusterCompressor&) = delete;

  // Compresses `in` into at most out.size() bytes. Returns the compressed length, 0 when the
  // result would not fit (the cluster is then better stored uncompressed), or -errno.
  ssize_t compress(std::span<const uint8_t> in, std::span<uint8_t> out);

 private:
  struct State;
  uint8_t type_;
  std::unique_ptr<State> state_;
};

}  // namespace tandem::qcow2
