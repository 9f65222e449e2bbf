// Errors at the edge of the VMM: bad options, bad images, failed host calls.
// They travel as exceptions and become a one-line message and a non-zero exit in main().
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace tandem {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// A host system call failed; the message carries strerror(errno).
class SystemError : public Error {
 public:
  SystemError(const std::string& what, int err);
  int code() const { return code_; }

 private:
  int code_;
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

// Throws SystemError built from the current errno.
template <typename... Args>
[[noreturn]] void fail_errno(fmt::format_string<Args...> format, Args&&... args);

[[noreturn]] void throw_errno(const std::string& what);

template <typename... Args>
[[noreturn]] void fail_errno(fmt::format_string<Args...> format, Args&&... args) {
  throw_errno(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace tandem
