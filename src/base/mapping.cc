#include "base/mapping.h"

#include "base/error.h"

namespace tandem {

Mapping Mapping::anonymous(size_t size, int prot, int extra_flags) {
  void* p = ::mmap(nullptr, size, prot, MAP_PRIVATE | MAP_ANONYMOUS | extra_flags, -1, 0);
  if (p == MAP_FAILED) fail_errno("cannot map {} bytes of memory", size);
  return Mapping(p, size);
}

Mapping Mapping::file(int fd, size_t size, int prot, int flags, off_t offset) {
  void* p = ::mmap(nullptr, size, prot, flags, fd, offset);
  if (p == MAP_FAILED) fail_errno("cannot map {} bytes of fd {}", size, fd);
  return Mapping(p, size);
}

}  // namespace tandem
