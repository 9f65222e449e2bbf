#include "block/qcow2/image_file.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "block/iov_util.h"

namespace tandem::qcow2 {

namespace {

constexpr uint64_t kBounceChunk = 1 << 20;

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

std::unique_ptr<uint8_t, FreeDeleter> aligned_alloc_bytes(size_t size, size_t align) {
  size = (size + align - 1) / align * align;
  return std::unique_ptr<uint8_t, FreeDeleter>(
      static_cast<uint8_t*>(std::aligned_alloc(align, size)));
}

// Advances an iovec list by n bytes (the list is a private copy).
void advance(std::vector<iovec>& v, size_t& index, uint64_t n) {
  while (n > 0 && index < v.size()) {
    uint64_t take = std::min<uint64_t>(n, v[index].iov_len);
    v[index].iov_base = static_cast<uint8_t*>(v[index].iov_base) + take;
    v[index].iov_len -= take;
    n -= take;
    if (v[index].iov_len == 0) ++index;
  }
}

void zero_iov(std::span<iovec> iov) {
  for (iovec& v : iov) std::memset(v.iov_base, 0, v.iov_len);
}

}  // namespace

bool ImageFile::aligned(uint64_t offset, std::span<const iovec> iov) const {
  if (!direct_) return true;
  uint64_t a = file_.offset_align;
  if (offset % a) return false;
  for (const iovec& v : iov) {
    if (reinterpret_cast<uintptr_t>(v.iov_base) % file_.mem_align || v.iov_len % a) return false;
  }
  return true;
}

int ImageFile::read(uint64_t offset, void* buf, size_t len) {
  iovec v{buf, len};
  return read(offset, {&v, 1});
}

int ImageFile::write(uint64_t offset, const void* buf, size_t len) {
  iovec v{const_cast<void*>(buf), len};
  return write(offset, {&v, 1});
}

int ImageFile::read(uint64_t offset, std::span<const iovec> iov) {
  uint64_t len = iov_total(iov).value_or(0);
  if (len == 0) return 0;
  return aligned(offset, iov) ? read_direct(offset, iov, len) : read_bounced(offset, iov, len);
}

int ImageFile::write(uint64_t offset, std::span<const iovec> iov) {
  uint64_t len = iov_total(iov).value_or(0);
  if (len == 0) return 0;
  if (observer_) observer_->on_write(offset, iov);
  int r = aligned(offset, iov) ? write_direct(offset, iov, len) : write_bounced(offset, iov, len);
  if (r == 0) size_ = std::max(size_, offset + len);
  return r;
}

int ImageFile::read_direct(uint64_t offset, std::span<const iovec> iov, uint64_t len) {
  std::vector<iovec> v(iov.begin(), iov.end());
  size_t index = 0;
  while (len > 0) {
    int count = static_cast<int>(std::min<size_t>(v.size() - index, IOV_MAX));
    ssize_t n = ::preadv(fd(), &v[index], count, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (n == 0) {  // end of file: the rest reads as zeroes
      zero_iov(std::span(v).subspan(index));
      return 0;
    }
    advance(v, index, static_cast<uint64_t>(n));
    offset += static_cast<uint64_t>(n);
    len -= static_cast<uint64_t>(n);
    // O_DIRECT cannot go on from an unaligned offset: a short read that ends there met the end
    // of the file.
    if (len > 0 && direct_ && offset % file_.offset_align != 0) {
      zero_iov(std::span(v).subspan(index));
      return 0;
    }
  }
  return 0;
}

int ImageFile::write_direct(uint64_t offset, std::span<const iovec> iov, uint64_t len) {
  std::vector<iovec> v(iov.begin(), iov.end());
  size_t index = 0;
  while (len > 0) {
    int count = static_cast<int>(std::min<size_t>(v.size() - index, IOV_MAX));
    ssize_t n = ::pwritev(fd(), &v[index], count, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (n == 0) return -EIO;
    advance(v, index, static_cast<uint64_t>(n));
    offset += static_cast<uint64_t>(n);
    len -= static_cast<uint64_t>(n);
  }
  return 0;
}

// With O_DIRECT, a read that reaches the end of a file whose size is not aligned returns what
// is there: read_direct's zero fill covers the rest.
int ImageFile::read_bounced(uint64_t offset, std::span<const iovec> iov, uint64_t len) {
  uint64_t a = file_.offset_align;
  uint64_t begin = offset / a * a;
  uint64_t end = (offset + len + a - 1) / a * a;
  auto bounce = aligned_alloc_bytes(std::min(end - begin, kBounceChunk),
                                    std::max<size_t>(file_.mem_align, 64));
  if (!bounce) return -ENOMEM;
  for (uint64_t c0 = begin; c0 < end; c0 += kBounceChunk) {
    uint64_t c1 = std::min(end, c0 + kBounceChunk);
    iovec b{bounce.get(), c1 - c0};
    if (int r = read_direct(c0, {&b, 1}, c1 - c0); r < 0) return r;
    uint64_t lo = std::max(c0, offset), hi = std::min(c1, offset + len);
    copy_to_iov(iov, lo - offset, bounce.get() + (lo - c0), hi - lo);
  }
  return 0;
}

int ImageFile::write_bounced(uint64_t offset, std::span<const iovec> iov, uint64_t len) {
  uint64_t a = file_.offset_align;
  uint64_t begin = offset / a * a;
  uint64_t end = (offset + len + a - 1) / a * a;
  auto bounce = aligned_alloc_bytes(std::min(end - begin, kBounceChunk),
                                    std::max<size_t>(file_.mem_align, 64));
  if (!bounce) return -ENOMEM;
  for (uint64_t c0 = begin; c0 < end; c0 += kBounceChunk) {
    uint64_t c1 = std::min(end, c0 + kBounceChunk);
    uint64_t lo = std::max(c0, offset), hi = std::min(c1, offset + len);
    iovec b{bounce.get(), c1 - c0};
    if (lo != c0 || hi != c1) {  // keep the bytes around ours
      if (int r = read_direct(c0, {&b, 1}, c1 - c0); r < 0) return r;
    }
    copy_from_iov(iov, lo - offset, bounce.get() + (lo - c0), hi - lo);
    if (int r = write_direct(c0, {&b, 1}, c1 - c0); r < 0) return r;
  }
  return 0;
}

int ImageFile::sync() {
  if (observer_) observer_->on_sync();
  while (::fdatasync(fd()) < 0) {
    if (errno != EINTR) return -errno;
  }
  return 0;
}

void ImageFile::punch_hole(uint64_t offset, uint64_t len) {
  // Best effort: a file system that cannot punch keeps the bytes, which nothing reads any more.
  if (observer_) observer_->on_punch_hole(offset, len);
  (void)::fallocate(fd(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                    static_cast<off_t>(len));
}

}  // namespace tandem::qcow2
