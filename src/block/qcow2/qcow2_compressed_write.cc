// Qcow2Image: writing compressed clusters, as `qemu-img convert -c` makes them. Compressed data
// are packed one after the other into host clusters, each compressed cluster adding one
// reference to every host cluster it touches; one may run on into the next host cluster when
// that is the next one allocated.
#include <algorithm>
#include <cerrno>

#include "block/qcow2/compression.h"
#include "block/qcow2/qcow2_format.h"
#include "block/qcow2/qcow2_image.h"

namespace tandem::qcow2 {

int Qcow2Image::write_compressed(uint64_t offset, std::span<const uint8_t> cluster) {
  uint64_t cs = cluster_size();
  if (cluster.size() != cs || offset % cs != 0 || offset >= size()) return -EINVAL;
  if (!compressor_) compressor_ = std::make_unique<ClusterCompressor>(header_.compression_type);
  compress_buffer_.resize(cs - 1);
  ssize_t n = compressor_->compress(cluster, compress_buffer_);
  if (n < 0) return static_cast<int>(n);
  if (n == 0) {  // incompressible: stored as it is
    iovec v{const_cast<uint8_t*>(cluster.data()), std::min(cs, size() - offset)};
    return write(offset, {&v, 1});
  }
  return write_compressed_data(offset, {compress_buffer_.data(), static_cast<size_t>(n)});
}

int Qcow2Image::write_compressed_data(uint64_t offset, std::span<const uint8_t> data) {
  if (read_only_) return -EROFS;
  uint64_t cs = cluster_size();
  unsigned cb = header_.cluster_bits;
  if (offset % cs != 0 || offset >= size() || data.empty() || data.size() >= cs) return -EINVAL;
  if (int r = check_writable(); r < 0) return r;

  auto put = [&]() -> int {
    uint64_t len = data.size();
    // Where the data go: after the previous compressed cluster if they fit into its host cluster
    // or may run on into a freshly allocated next one; otherwise at the start of a new cluster.
    uint64_t free = compressed_free_ % cs != 0 ? compressed_free_ : 0;
    uint64_t boundary = (free + cs - 1) & ~(cs - 1);
    uint64_t host;
    if (free != 0 && free + len <= boundary) {
      if (int r = update_refcount(free >> cb, 1); r < 0) return r;
      host = free;
    } else {
      uint64_t fresh;
      if (int r = alloc_clusters(1, fresh); r < 0) return r;
      if (free != 0 && fresh == boundary) {
        if (int r = update_refcount(free >> cb, 1); r < 0) return r;
        host = free;
      } else {
        host = fresh;
      }
    }
    compressed_free_ = host + len;
    iovec v{const_cast<uint8_t*>(data.data()), len};
    if (int r = file_write(host, {&v, 1}); r < 0) return r;

    uint64_t vc = offset >> cb;
    TablePtr l2;
    if (int r = writable_l2(vc >> l2_bits_, l2); r < 0) return r;
    size_t index = vc & ((uint64_t{1} << l2_bits_) - 1);
    uint64_t old = l2->entry(index);
    if (int r = check_l2_entry(old); r < 0) return r;
    // The entry holds the number of 512-byte sectors touched after the first one.
    uint64_t sectors = ((host + len - 1) >> 9) - (host >> 9);
    l2->set_entry(index, host | kOflagCompressed | (sectors << (62 - (cb - 8))));
    release(old);
    metadata_dirty_ = true;
    return 0;
  };
  return end_modify(put());
}

}  // namespace tandem::qcow2
