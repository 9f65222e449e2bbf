#include "base/unique_fd.h"

#include <fcntl.h>

#include "base/error.h"

namespace tandem {

UniqueFd open_or_throw(const char* path, int flags, int mode) {
  int fd = ::open(path, flags | O_CLOEXEC, mode);
  if (fd < 0) fail_errno("cannot open {}", path);
  return UniqueFd(fd);
}

}  // namespace tandem
