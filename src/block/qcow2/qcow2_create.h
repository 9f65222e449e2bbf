// Creating an empty qcow2 image, laid out as QEMU lays out a new one: the header (with the
// backing format and feature name extensions and the backing file name) in cluster 0, the
// refcount table, the refcount blocks covering every metadata cluster, then the L1 table. No
// cluster is allocated for guest data; every cluster of metadata has refcount 1.
#pragma once

#include <cstdint>
#include <string>

#include "block/qcow2/qcow2_format.h"

namespace tandem::qcow2 {

struct CreateOptions {
  uint64_t size = 0;              // virtual size in bytes
  uint64_t cluster_size = 65536;  // a power of two, 512 .. 2 MiB
  uint32_t version = 3;           // 2 (compat=0.10) or 3 (compat=1.1)
  uint8_t compression_type = kCompressionZlib;
  uint32_t refcount_bits = 16;  // a power of two, 1 .. 64 (16 for version 2)
  bool lazy_refcounts = false;  // version 3 only
  std::string backing_file;     // stored as given (relative names are relative to the image)
  std::string backing_format;   // "" : not recorded
};

// Throws Error (QEMU's wording where it has one) when an option is out of range or does not go
// with the others, or when the size needs an L1 table larger than QEMU accepts.
void validate_create_options(const CreateOptions& options);

// Creates (or truncates and overwrites) `path` as an empty qcow2 image and makes it durable.
// Throws Error naming the file.
void create_image(const std::string& path, const CreateOptions& options);

}  // namespace tandem::qcow2
