#include "block/image_lock.h"

#include <fcntl.h>

#include <cerrno>
#include <cstring>

#include "base/error.h"
#include "base/log.h"

namespace tandem {

namespace {

// Byte offsets and permission numbers shared with QEMU's file-posix locking.
constexpr off_t kPermBase = 100;
constexpr off_t kSharedBase = 200;
enum Perm : unsigned { kConsistentRead = 0, kWrite = 1, kWriteUnchanged = 2, kResize = 3 };
constexpr const char* kPermNames[] = {"consistent read", "write", "write unchanged", "resize"};
constexpr unsigned kNumPerms = 4;

bool has(unsigned set, unsigned perm) {
  return set & (1u << perm);
}

struct flock lock_request(short type, off_t byte) {
  struct flock fl;
  std::memset(&fl, 0, sizeof fl);
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = byte;
  fl.l_len = 1;
  return fl;
}

// Returns 0, or errno.
int take_shared(int fd, off_t byte) {
  struct flock fl = lock_request(F_RDLCK, byte);
  return ::fcntl(fd, F_OFD_SETLK, &fl) < 0 ? errno : 0;
}

// Whether another open file holds a lock on `byte` (ours never conflict with a test from our
// own open file). Returns -errno if the test itself fails.
int held_by_other(int fd, off_t byte) {
  struct flock fl = lock_request(F_WRLCK, byte);
  if (::fcntl(fd, F_OFD_GETLK, &fl) < 0) return -errno;
  return fl.l_type != F_UNLCK;
}

bool unsupported(int err) {
  return err == EINVAL || err == ENOLCK || err == EOPNOTSUPP || err == ENOSYS;
}

[[noreturn]] void test_failed(const std::string& path, int err) {
  errno = err;
  fail_errno("{}: testing image lock", path);
}

[[noreturn]] void conflict(const std::string& path, bool shared, unsigned perm) {
  fail("Failed to get {}\"{}\" lock: is another process using the image [{}]?",
       shared ? "shared " : "", kPermNames[perm], path);
}

}  // namespace

bool lock_image(int fd, const std::string& path, bool writable) {
  unsigned used = 1u << kConsistentRead | (writable ? 1u << kWrite : 0);
  unsigned unshared = 1u << kWrite | 1u << kResize;

  for (unsigned i = 0; i < kNumPerms; ++i) {
    for (bool refuse : {false, true}) {
      if (!has(refuse ? unshared : used, i)) continue;
      int err = take_shared(fd, (refuse ? kSharedBase : kPermBase) + i);
      if (err == 0) continue;
      if (unsupported(err)) {
        TLOG_WARN("{}: file system does not support image locking ({}); not locked", path,
                  std::strerror(err));
        return false;
      }
      // Someone holds an exclusive lock on the byte: not QEMU's scheme, but a conflict all the
      // same.
      conflict(path, refuse, i);
    }
  }
  for (unsigned i = 0; i < kNumPerms; ++i) {
    if (has(used, i)) {
      int r = held_by_other(fd, kSharedBase + i);
      if (r < 0) test_failed(path, -r);
      if (r) conflict(path, false, i);
    }
    if (has(unshared, i)) {
      int r = held_by_other(fd, kPermBase + i);
      if (r < 0) test_failed(path, -r);
      if (r) conflict(path, true, i);
    }
  }
  return true;
}

}  // namespace tandem
