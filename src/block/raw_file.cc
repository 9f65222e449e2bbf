#include "block/raw_file.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>

#include "base/error.h"
#include "block/image_lock.h"

namespace tandem {

namespace {

constexpr uint32_t kDefaultDirectAlign = 4096;
constexpr uint32_t kMaxDirectAlign = 64 * 1024;

bool sane_alignment(uint32_t a) {
  return a > 0 && a <= kMaxDirectAlign && std::has_single_bit(a);
}

// What O_DIRECT needs on this file: the kernel says so through statx (Linux 6.1+ for most file
// systems); block devices give their logical block size; otherwise assume a 4 KiB page, which
// every device accepts.
void probe_direct_alignment(RawFile& file, bool block_device) {
  file.mem_align = file.offset_align = kDefaultDirectAlign;
  struct statx stx {};
  if (::statx(file.fd.get(), "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
      (stx.stx_mask & STATX_DIOALIGN) && sane_alignment(stx.stx_dio_mem_align) &&
      sane_alignment(stx.stx_dio_offset_align)) {
    file.mem_align = stx.stx_dio_mem_align;
    file.offset_align = stx.stx_dio_offset_align;
    return;
  }
  int logical = 0;
  if (block_device && ::ioctl(file.fd.get(), BLKSSZGET, &logical) == 0 &&
      sane_alignment(static_cast<uint32_t>(logical))) {
    file.mem_align = file.offset_align = static_cast<uint32_t>(logical);
  }
}

}  // namespace

RawFile open_raw_file(const std::string& path, bool read_only, CacheMode cache) {
  // O_NONBLOCK: opening a FIFO (a path in an image's backing-file field, say) must not hang
  // waiting for a writer; it is refused below like any other non-disk file, and cleared after.
  int flags = (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK;
  if (uses_o_direct(cache)) flags |= O_DIRECT;
  if (uses_o_dsync(cache)) flags |= O_DSYNC;

  RawFile file;
  file.fd.reset(::open(path.c_str(), flags));
  if (!file.fd) {
    int err = errno;
    if (err == EISDIR) fail("'{}' is a directory, not a disk image", path);
    if (err == EINVAL && uses_o_direct(cache)) {
      fail(
          "could not open '{}' with cache={}: the file system does not support O_DIRECT "
          "(use cache=writeback)",
          path, to_string(cache));
    }
    if (!read_only && (err == EACCES || err == EROFS || err == EPERM)) {
      errno = err;
      fail_errno("could not open '{}' for writing (readonly=on opens it read-only)", path);
    }
    errno = err;
    fail_errno("could not open '{}'", path);
  }

  struct stat st;
  if (::fstat(file.fd.get(), &st) < 0) fail_errno("could not stat '{}'", path);
  if (S_ISDIR(st.st_mode)) fail("'{}' is a directory, not a disk image", path);
  bool block_device = S_ISBLK(st.st_mode);
  if (!S_ISREG(st.st_mode) && !block_device) {
    fail("'{}' is neither a regular file nor a block device", path);
  }
  const int fl = ::fcntl(file.fd.get(), F_GETFL);
  if (fl < 0 || ::fcntl(file.fd.get(), F_SETFL, fl & ~O_NONBLOCK) < 0) {
    fail_errno("could not set up '{}'", path);
  }

  lock_image(file.fd.get(), path, !read_only);

  off_t end = ::lseek(file.fd.get(), 0, SEEK_END);
  if (end < 0) fail_errno("could not get the size of '{}'", path);
  file.size = static_cast<uint64_t>(end);

  if (uses_o_direct(cache)) probe_direct_alignment(file, block_device);
  return file;
}

}  // namespace tandem
