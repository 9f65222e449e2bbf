#include "block/qcow2/qcow2_create.h"

#include <fcntl.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <vector>

#include "base/error.h"
#include "base/unique_fd.h"

namespace tandem::qcow2 {

namespace {

constexpr uint32_t kV3HeaderLength = 112;  // 104 + compression_type, padded to 8

// The feature name table QEMU writes into version 3 images (type, bit, name).
struct KnownFeature {
  uint8_t type;
  uint8_t bit;
  const char* name;
};
constexpr KnownFeature kFeatureNames[] = {
    {0, 0, "dirty bit"},        {0, 1, "corrupt bit"},         {0, 2, "external data file"},
    {0, 3, "compression type"}, {0, 4, "extended L2 entries"}, {1, 0, "lazy refcounts"},
    {2, 0, "bitmaps"},          {2, 1, "raw external data"},
};

uint64_t div_round_up(uint64_t a, uint64_t b) {
  return (a + b - 1) / b;
}

void put_extension(std::vector<uint8_t>& out, uint32_t type, const std::vector<uint8_t>& data) {
  size_t pos = out.size();
  out.resize(pos + 8 + ((data.size() + 7) & ~size_t{7}), 0);
  store_be32(&out[pos], type);
  store_be32(&out[pos + 4], static_cast<uint32_t>(data.size()));
  std::copy(data.begin(), data.end(), out.begin() + static_cast<ptrdiff_t>(pos + 8));
}

void write_all(int fd, const std::string& path, uint64_t offset, const uint8_t* data, size_t len) {
  while (len > 0) {
    ssize_t n = ::pwrite(fd, data, len, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_errno("could not write '{}'", path);
    }
    data += n;
    len -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
}

}  // namespace

void validate_create_options(const CreateOptions& o) {
  uint64_t cs = o.cluster_size;
  if (!std::has_single_bit(cs) || cs < (uint64_t{1} << kMinClusterBits) ||
      cs > (uint64_t{1} << kMaxClusterBits)) {
    fail("Cluster size must be a power of two between 512 and 2048k");
  }
  if (o.version != 2 && o.version != 3) {
    fail("qcow2 version {} is not supported (compat=0.10 or compat=1.1)", o.version);
  }
  if (!std::has_single_bit(o.refcount_bits) || o.refcount_bits > 64) {
    fail("Refcount width must be a power of two and may not exceed 64 bits");
  }
  if (o.version == 2 && o.refcount_bits != 16) {
    fail(
        "Different refcount widths than 16 bits require compatibility level 1.1 or above (use "
        "compat=1.1 or greater)");
  }
  if (o.version == 2 && o.lazy_refcounts) {
    fail(
        "Lazy refcounts only supported with compatibility level 1.1 and above (use compat=1.1 or "
        "greater)");
  }
  if (o.compression_type > kCompressionZstd) {
    fail("unknown compression type {}", o.compression_type);
  }
  if (o.version == 2 && o.compression_type != kCompressionZlib) {
    fail(
        "Compression type other than zlib requires compatibility level 1.1 or above (use "
        "compat=1.1 or greater)");
  }
  if (o.backing_file.size() > kMaxBackingFileSize) {
    fail("backing file name '{}' is too long ({} bytes, at most {})", o.backing_file,
         o.backing_file.size(), kMaxBackingFileSize);
  }
  if (o.backing_file.empty() && !o.backing_format.empty()) {
    fail("a backing format was given without a backing file");
  }
  if (o.size > uint64_t{INT64_MAX} - 511) fail("Image size too large: {} bytes", o.size);
  // An L2 table maps cs * cs / 8 bytes; QEMU accepts L1 tables up to 32 MiB.
  unsigned bits = static_cast<unsigned>(std::countr_zero(cs));
  uint64_t l1_entries = div_round_up(o.size, uint64_t{1} << (2 * bits - 3));
  if (l1_entries * 8 > kMaxL1Bytes) {
    fail("The image size is too large for file format 'qcow2' (try using a larger cluster size)");
  }
}

void create_image(const std::string& path, const CreateOptions& o) {
  validate_create_options(o);
  uint64_t cs = o.cluster_size;
  unsigned cluster_bits = static_cast<unsigned>(std::countr_zero(cs));
  uint64_t size = (o.size + 511) & ~uint64_t{511};
  uint64_t l1_entries = div_round_up(size, uint64_t{1} << (2 * cluster_bits - 3));
  uint64_t l1_clusters = div_round_up(l1_entries * 8, cs);

  // Refcount blocks must count every metadata cluster, themselves and the table included.
  uint64_t per_block = cs * 8 / o.refcount_bits;
  uint64_t table_clusters = 1, blocks = 1;
  while (true) {
    uint64_t metadata = 1 + table_clusters + blocks + l1_clusters;
    uint64_t need_blocks = div_round_up(metadata, per_block);
    uint64_t need_table = div_round_up(need_blocks * 8, cs);
    if (need_blocks <= blocks && need_table <= table_clusters) break;
    blocks = std::max(blocks, need_blocks);
    table_clusters = std::max(table_clusters, need_table);
  }
  if (table_clusters * cs > kMaxRefcountTableBytes) {
    fail("The image size is too large for file format 'qcow2' (try using a larger cluster size)");
  }
  uint64_t table_offset = cs;
  uint64_t blocks_offset = table_offset + table_clusters * cs;
  uint64_t l1_offset = l1_entries ? blocks_offset + blocks * cs : 0;
  uint64_t metadata_clusters = 1 + table_clusters + blocks + l1_clusters;

  // Header, extensions, backing file name: all of cluster 0.
  std::vector<uint8_t> header(o.version == 3 ? kV3HeaderLength : kV2HeaderLength, 0);
  uint8_t* h = header.data();
  store_be32(h, kMagic);
  store_be32(h + 4, o.version);
  store_be32(h + 20, cluster_bits);
  store_be64(h + 24, size);
  store_be32(h + 36, static_cast<uint32_t>(l1_entries));
  store_be64(h + 40, l1_offset);
  store_be64(h + 48, table_offset);
  store_be32(h + 56, static_cast<uint32_t>(table_clusters));
  if (o.version == 3) {
    store_be64(h + 72, o.compression_type != kCompressionZlib ? kIncompatCompression : 0);
    store_be64(h + 80, o.lazy_refcounts ? kCompatLazyRefcounts : 0);
    store_be32(h + 96, static_cast<uint32_t>(std::countr_zero(o.refcount_bits)));
    store_be32(h + 100, kV3HeaderLength);
    h[104] = o.compression_type;
  }
  if (!o.backing_format.empty()) {
    put_extension(header, kExtBackingFormat,
                  std::vector<uint8_t>(o.backing_format.begin(), o.backing_format.end()));
  }
  // QEMU leaves the feature name table out of small header clusters.
  if (o.version == 3 && cs > 4096) {
    std::vector<uint8_t> names(std::size(kFeatureNames) * 48, 0);
    for (size_t i = 0; i < std::size(kFeatureNames); ++i) {
      names[i * 48] = kFeatureNames[i].type;
      names[i * 48 + 1] = kFeatureNames[i].bit;
      std::string n = kFeatureNames[i].name;
      std::copy(n.begin(), n.end(), names.begin() + static_cast<ptrdiff_t>(i * 48 + 2));
    }
    put_extension(header, kExtFeatureNames, names);
  }
  header.resize(header.size() + 8, 0);  // end of extensions
  if (!o.backing_file.empty()) {
    store_be64(header.data() + 8, header.size());
    store_be32(header.data() + 16, static_cast<uint32_t>(o.backing_file.size()));
    header.insert(header.end(), o.backing_file.begin(), o.backing_file.end());
  }
  if (header.size() > cs) {
    fail(
        "the qcow2 header of '{}' ({} bytes with its backing file name) does not fit in a {}-byte "
        "cluster",
        path, header.size(), cs);
  }

  // Header cluster, refcount table and refcount blocks, written as one buffer.
  std::vector<uint8_t> image((1 + table_clusters + blocks) * cs, 0);
  std::copy(header.begin(), header.end(), image.begin());
  for (uint64_t i = 0; i < blocks; ++i) {
    store_be64(&image[table_offset + i * 8], blocks_offset + i * cs);
  }
  uint8_t* refblocks = &image[blocks_offset];
  for (uint64_t c = 0; c < metadata_clusters; ++c) {
    uint64_t bit = c * o.refcount_bits;
    switch (o.refcount_bits) {
      case 1:
      case 2:
      case 4:
        refblocks[bit / 8] |= static_cast<uint8_t>(1u << (bit % 8));
        break;
      default:  // big-endian value 1: its last byte
        refblocks[(bit + o.refcount_bits) / 8 - 1] = 1;
        break;
    }
  }

  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) fail_errno("could not create '{}'", path);
  write_all(fd.get(), path, 0, image.data(), image.size());
  // The L1 table is all zeroes: the file only has to reach its end.
  uint64_t end = l1_entries ? l1_offset + l1_entries * 8 : image.size();
  if (::ftruncate(fd.get(), static_cast<off_t>(end)) < 0) fail_errno("could not resize '{}'", path);
  if (::fdatasync(fd.get()) < 0) fail_errno("could not sync '{}'", path);
}

}  // namespace tandem::qcow2
