// The qcow2 header and its extensions, parsed and checked before anything else of the image is
// trusted: every field that later code relies on (cluster size, table offsets and sizes, feature
// bits, header length) is validated here, and an image that breaks a rule is refused with a
// one-line Error naming the file and the rule.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace tandem::qcow2 {

struct FeatureName {
  uint8_t type;  // 0 incompatible, 1 compatible, 2 autoclear
  uint8_t bit;
  std::string name;
};

struct Header {
  uint32_t version = 0;
  uint64_t backing_file_offset = 0;
  uint32_t backing_file_size = 0;
  uint32_t cluster_bits = 0;
  uint64_t size = 0;  // virtual disk size in bytes
  uint32_t crypt_method = 0;
  uint32_t l1_size = 0;
  uint64_t l1_table_offset = 0;
  uint64_t refcount_table_offset = 0;
  uint32_t refcount_table_clusters = 0;
  uint32_t nb_snapshots = 0;
  uint64_t snapshots_offset = 0;
  // Version 3 (version 2: zero, refcount_order 4, header_length 72).
  uint64_t incompatible_features = 0;
  uint64_t compatible_features = 0;
  uint64_t autoclear_features = 0;
  uint32_t refcount_order = 4;
  uint32_t header_length = 0;
  uint8_t compression_type = 0;

  // From the name at backing_file_offset and the header extensions.
  std::string backing_file;    // empty: no backing file
  std::string backing_format;  // empty: not recorded
  std::vector<FeatureName> feature_names;

  uint64_t cluster_size() const { return 1ull << cluster_bits; }
  uint32_t refcount_bits() const { return 1u << refcount_order; }
  // Entries in one L2 table, and guest bytes one L2 table maps.
  uint64_t l2_entries() const { return cluster_size() / 8; }
  uint64_t l1_entries_needed() const;

  // The name of incompatible feature `bit` from the feature name table, or "".
  std::string feature_name(uint8_t type, unsigned bit) const;
};

// Bytes to read from the start of the file to parse the header: the whole first cluster, which
// holds the header, its extensions and the backing file name (cluster_bits is at byte 20).
inline constexpr size_t kHeaderProbeBytes = 104;

// Parses and validates `first_cluster` (the file's first min(cluster size, file size) bytes, or
// fewer if the file is shorter: then it fails) of the file `path`, `file_size` bytes long.
// Checks: magic, version 2/3, cluster_bits 9..21, header_length, refcount_order <= 6,
// compression type, l1_size against the virtual size and QEMU's L1 limit, every table offset
// cluster-aligned and its table inside the file and clear of the header cluster, the extensions'
// bounds and the backing file name. Feature bits are not judged here (see Qcow2Image::open).
// Throws Error.
Header parse_header(std::span<const uint8_t> first_cluster, uint64_t file_size,
                    const std::string& path);

}  // namespace tandem::qcow2
