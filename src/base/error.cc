#include "base/error.h"

#include <cerrno>
#include <cstring>

namespace tandem {

SystemError::SystemError(const std::string& what, int err)
    : Error(what + ": " + std::strerror(err)), code_(err) {}

void throw_errno(const std::string& what) { throw SystemError(what, errno); }

}  // namespace tandem
