#include "block/qcow2/format_probe.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "base/error.h"
#include "base/unique_fd.h"
#include "block/qcow2/qcow2_format.h"

namespace tandem {

std::string probe_image_format(const std::string& path) {
  // O_NONBLOCK: a FIFO must not hang the open; it is refused below.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd) {
    if (errno == EISDIR) fail("'{}' is a directory, not a disk image", path);
    fail_errno("could not open '{}'", path);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) == 0 && S_ISDIR(st.st_mode)) {
    fail("'{}' is a directory, not a disk image", path);
  }
  if (::fstat(fd.get(), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
    fail("'{}' is neither a regular file nor a block device", path);
  }
  uint8_t buf[512] = {};
  ssize_t n;
  do {
    n = ::pread(fd.get(), buf, sizeof buf, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) fail_errno("could not read '{}'", path);

  auto at = [&](size_t off, const char* magic, size_t len) {
    return static_cast<size_t>(n) >= off + len && std::memcmp(buf + off, magic, len) == 0;
  };
  if (at(0, "QFI\xfb", 4)) {
    // Version 1 is the old qcow format, a different layout behind the same magic.
    return n >= 8 && qcow2::load_be32(buf + 4) == 1 ? "qcow" : "qcow2";
  }
  if (at(0, "KDMV", 4) || at(0, "# Disk DescriptorFile", 21)) return "vmdk";
  if (at(0x40, "\x7f\x10\xda\xbe", 4)) return "vdi";
  if (at(0, "vhdxfile", 8)) return "vhdx";
  if (at(0, "conectix", 8)) return "vpc";
  if (at(0, "QED\0", 4)) return "qed";
  return "raw";
}

}  // namespace tandem
