#include "block/qcow2/qcow2_header.h"

#include <fmt/format.h>

#include "base/error.h"
#include "block/qcow2/qcow2_format.h"

namespace tandem::qcow2 {

namespace {

// A table of `bytes` bytes at `offset` must be cluster-aligned, lie wholly inside the file and
// leave the header cluster alone.
void check_table(const std::string& path, const char* what, uint64_t offset, uint64_t bytes,
                 uint64_t cluster_size, uint64_t file_size) {
  if (offset % cluster_size != 0) {
    fail("invalid qcow2 image '{}': {} offset {:#x} is not aligned to a cluster ({} bytes)", path,
         what, offset, cluster_size);
  }
  if (offset < cluster_size) {
    fail("invalid qcow2 image '{}': {} at offset {:#x} overlaps the header", path, what, offset);
  }
  if (offset > file_size || bytes > file_size - offset) {
    fail("invalid qcow2 image '{}': {} at offset {:#x} ({} bytes) lies outside the file ({} bytes)",
         path, what, offset, bytes, file_size);
  }
}

void parse_extensions(std::span<const uint8_t> data, size_t pos, size_t end, Header& h,
                      const std::string& path) {
  bool seen_backing_format = false;
  bool seen_feature_names = false;
  while (true) {
    if (end - pos < 8) {
      fail("invalid qcow2 image '{}': header extensions run past the first cluster", path);
    }
    uint32_t type = load_be32(&data[pos]);
    uint32_t len = load_be32(&data[pos + 4]);
    pos += 8;
    if (type == kExtEnd) return;
    if (len > end - pos) {
      fail(
          "invalid qcow2 image '{}': header extension {:#x} ({} bytes) runs past the first cluster",
          path, type, len);
    }
    std::span<const uint8_t> ext = data.subspan(pos, len);
    switch (type) {
      case kExtBackingFormat:
        if (seen_backing_format) {
          fail("invalid qcow2 image '{}': two backing format extensions", path);
        }
        seen_backing_format = true;
        h.backing_format.assign(reinterpret_cast<const char*>(ext.data()), ext.size());
        // Stop at a NUL: QEMU never writes one, but a padded name must still compare equal.
        h.backing_format.resize(h.backing_format.find('\0') == std::string::npos
                                    ? h.backing_format.size()
                                    : h.backing_format.find('\0'));
        break;
      case kExtFeatureNames:
        if (seen_feature_names) fail("invalid qcow2 image '{}': two feature name tables", path);
        seen_feature_names = true;
        for (size_t i = 0; i + 48 <= ext.size(); i += 48) {
          const char* name = reinterpret_cast<const char*>(&ext[i + 2]);
          size_t n = 0;
          while (n < 46 && name[n] != '\0') ++n;
          h.feature_names.push_back({ext[i], ext[i + 1], std::string(name, n)});
        }
        break;
      default:
        break;  // bitmaps, encryption, data file (judged by their feature bits), unknown: ignored
    }
    uint64_t padded = (uint64_t{len} + 7) & ~uint64_t{7};
    if (padded > end - pos) return;  // the last extension's padding may be cut by the cluster end
    pos += padded;
  }
}

}  // namespace

uint64_t Header::l1_entries_needed() const {
  unsigned shift = 2 * cluster_bits - 3;  // bytes mapped by one L2 table = cs * cs / 8
  return (size >> shift) + ((size & ((1ull << shift) - 1)) != 0);
}

std::string Header::feature_name(uint8_t type, unsigned bit) const {
  for (const FeatureName& f : feature_names) {
    if (f.type == type && f.bit == bit) return f.name;
  }
  return "";
}

Header parse_header(std::span<const uint8_t> data, uint64_t file_size, const std::string& path) {
  if (data.size() < 4 || load_be32(data.data()) != kMagic) {
    fail("'{}' is not a qcow2 image (no QFI\\xfb magic)", path);
  }
  if (data.size() < kV2HeaderLength) {
    fail("invalid qcow2 image '{}': the file ({} bytes) is shorter than the header", path,
         file_size);
  }
  Header h;
  const uint8_t* p = data.data();
  h.version = load_be32(p + 4);
  if (h.version != 2 && h.version != 3) {
    fail("qcow2 image '{}' has version {}, which is not supported (only 2 and 3)", path, h.version);
  }
  h.backing_file_offset = load_be64(p + 8);
  h.backing_file_size = load_be32(p + 16);
  h.cluster_bits = load_be32(p + 20);
  h.size = load_be64(p + 24);
  h.crypt_method = load_be32(p + 32);
  h.l1_size = load_be32(p + 36);
  h.l1_table_offset = load_be64(p + 40);
  h.refcount_table_offset = load_be64(p + 48);
  h.refcount_table_clusters = load_be32(p + 56);
  h.nb_snapshots = load_be32(p + 60);
  h.snapshots_offset = load_be64(p + 64);

  if (h.cluster_bits < kMinClusterBits || h.cluster_bits > kMaxClusterBits) {
    fail("invalid qcow2 image '{}': cluster_bits {} is outside {}..{}", path, h.cluster_bits,
         kMinClusterBits, kMaxClusterBits);
  }
  uint64_t cs = h.cluster_size();

  if (h.version == 2) {
    h.header_length = kV2HeaderLength;
  } else {
    if (data.size() < kV3MinHeaderLength) {
      fail("invalid qcow2 image '{}': the file ({} bytes) is shorter than the version 3 header",
           path, file_size);
    }
    h.incompatible_features = load_be64(p + 72);
    h.compatible_features = load_be64(p + 80);
    h.autoclear_features = load_be64(p + 88);
    h.refcount_order = load_be32(p + 96);
    h.header_length = load_be32(p + 100);
    if (h.header_length < kV3MinHeaderLength || h.header_length % 8 != 0 || h.header_length > cs) {
      fail(
          "invalid qcow2 image '{}': header_length {} (must be a multiple of 8, at least {} and "
          "at most the cluster size {})",
          path, h.header_length, kV3MinHeaderLength, cs);
    }
    if (h.refcount_order > 6) {
      fail("invalid qcow2 image '{}': refcount_order {} is above 6 (64-bit refcounts)", path,
           h.refcount_order);
    }
  }
  if (data.size() < std::min<uint64_t>(cs, file_size) || data.size() < h.header_length) {
    fail("invalid qcow2 image '{}': the file ({} bytes) ends inside the header", path, file_size);
  }
  if (h.header_length > 104) h.compression_type = p[104];
  bool compression_bit = h.incompatible_features & kIncompatCompression;
  if (compression_bit && h.compression_type == 0) {
    fail("invalid qcow2 image '{}': the compression type bit is set but compression_type is zlib",
         path);
  }
  if (!compression_bit && h.compression_type != 0) {
    fail("invalid qcow2 image '{}': compression_type {} without the compression type bit", path,
         h.compression_type);
  }
  if (h.compression_type > kCompressionZstd) {
    fail("qcow2 image '{}' uses compression type {}, which is not supported (zlib or zstd)", path,
         h.compression_type);
  }

  // Tables: L1, refcount table, snapshot table.
  uint64_t needed = h.l1_entries_needed();
  if (h.l1_size < needed) {
    fail(
        "invalid qcow2 image '{}': the L1 table ({} entries) is too small for the virtual size {} "
        "(needs {})",
        path, h.l1_size, h.size, needed);
  }
  if (uint64_t{h.l1_size} * 8 > kMaxL1Bytes) {
    fail("invalid qcow2 image '{}': the L1 table ({} entries) is larger than 32 MiB", path,
         h.l1_size);
  }
  if (h.l1_size > 0) {
    check_table(path, "the L1 table", h.l1_table_offset, uint64_t{h.l1_size} * 8, cs, file_size);
  }
  if (h.refcount_table_clusters == 0) {
    fail("invalid qcow2 image '{}': the refcount table is empty", path);
  }
  uint64_t rt_bytes = uint64_t{h.refcount_table_clusters} * cs;
  if (rt_bytes > kMaxRefcountTableBytes) {
    fail("invalid qcow2 image '{}': the refcount table ({} clusters) is larger than 8 MiB", path,
         h.refcount_table_clusters);
  }
  check_table(path, "the refcount table", h.refcount_table_offset, rt_bytes, cs, file_size);
  if (h.nb_snapshots > kMaxSnapshots) {
    fail("invalid qcow2 image '{}': {} snapshots (at most {})", path, h.nb_snapshots,
         kMaxSnapshots);
  }
  if (h.nb_snapshots > 0) {
    // Entries are at least 40 bytes each (their exact size is not needed to use the image).
    check_table(path, "the snapshot table", h.snapshots_offset, uint64_t{h.nb_snapshots} * 40, cs,
                file_size);
  }

  // Extensions follow the header, up to the end of the first cluster.
  size_t end = static_cast<size_t>(std::min<uint64_t>(cs, data.size()));
  parse_extensions(data, h.header_length, end, h, path);

  if (h.backing_file_offset != 0) {
    if (h.backing_file_size == 0 || h.backing_file_size > kMaxBackingFileSize) {
      fail("invalid qcow2 image '{}': backing file name length {} (must be 1..{})", path,
           h.backing_file_size, kMaxBackingFileSize);
    }
    if (h.backing_file_offset < h.header_length || h.backing_file_offset > end ||
        h.backing_file_size > end - h.backing_file_offset) {
      fail(
          "invalid qcow2 image '{}': the backing file name at offset {:#x} is not inside the "
          "first cluster",
          path, h.backing_file_offset);
    }
    h.backing_file.assign(reinterpret_cast<const char*>(p + h.backing_file_offset),
                          h.backing_file_size);
    if (h.backing_file.find('\0') != std::string::npos) {
      fail("invalid qcow2 image '{}': the backing file name contains a NUL byte", path);
    }
  }
  return h;
}

}  // namespace tandem::qcow2
