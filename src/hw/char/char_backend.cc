#include "hw/char/char_backend.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <string>

#include "base/error.h"
#include "base/log.h"
#include "base/unique_fd.h"
#include "hw/char/stdio/stdio_backend.h"

namespace tandem {
namespace {

// "file:PATH": the guest's output goes to PATH (created or truncated, as QEMU does); no input.
class FileCharBackend final : public CharBackend {
 public:
  explicit FileCharBackend(const std::string& path) {
    fd_.reset(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666));
    if (!fd_) fail("serial file '{}': {}", path, std::strerror(errno));
  }

  void write(std::span<const uint8_t> data) override {
    std::lock_guard lock(mutex_);
    while (!data.empty() && !broken_) {
      ssize_t n = ::write(fd_.get(), data.data(), data.size());
      if (n > 0) {
        data = data.subspan(static_cast<size_t>(n));
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        broken_ = true;  // disk full or similar: keep the guest running, drop its output
        TLOG_WARN("serial file output: {}; dropping further output",
                  n < 0 ? std::strerror(errno) : "short write");
      }
    }
  }
  void set_frontend(CharFrontend*) override {}

 private:
  UniqueFd fd_;
  std::mutex mutex_;
  bool broken_ = false;
};

}  // namespace

std::unique_ptr<CharBackend> make_char_backend(std::string_view spec, EventLoop& loop,
                                               VmControl& control) {
  if (spec == "stdio" || spec == "mon:stdio") return std::make_unique<StdioBackend>(loop, control);
  if (spec == "null" || spec == "none") return std::make_unique<NullCharBackend>();
  if (spec.starts_with("file:")) {
    std::string path(spec.substr(5));
    if (path.empty()) fail("serial backend 'file:' needs a path");
    return std::make_unique<FileCharBackend>(path);
  }
  fail("unsupported serial backend '{}' (use stdio, mon:stdio, file:PATH, null or none)", spec);
}

}  // namespace tandem
