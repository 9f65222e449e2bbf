// Fuzzes opening qcow2 images and reading through them, then writing into them. The input is
// an image file: it is written to a scratch file and opened as a qcow2 image (read-only first,
// then read-write on a copy). Every open either succeeds or throws tandem::Error; reads and
// writes return 0 or -errno. Besides the sanitizers the target checks that a read-only open
// never changes the file and that reads stay deterministic (the same range twice gives the
// same bytes).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/log.h"
#include "block/qcow2/qcow2_image.h"

namespace {

using namespace tandem;

std::string scratch_path(const char* what) {
  return std::string("/tmp/tandem-qcow2-fuzz-") + std::to_string(::getpid()) + "-" + what;
}

bool write_file(const std::string& path, const uint8_t* data, size_t size) {
  int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  bool ok = size == 0 || ::write(fd, data, size) == static_cast<ssize_t>(size);
  ::close(fd);
  return ok;
}

std::vector<uint8_t> read_all(const std::string& path) {
  std::vector<uint8_t> out;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  uint8_t buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.insert(out.end(), buf, buf + n);
  ::close(fd);
  return out;
}

// A few ranges spread over the image: the start, the end, and offsets taken from the input.
std::vector<std::pair<uint64_t, uint64_t>> ranges(uint64_t size, const uint8_t* data, size_t n) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  if (size == 0) return out;
  const uint64_t len = std::min<uint64_t>(size, 64 * 1024);
  out.push_back({0, len});
  out.push_back({size - len, len});
  for (size_t i = 0; i + 8 <= n && out.size() < 6; i += 97) {
    uint64_t v;
    std::memcpy(&v, data + i, 8);
    const uint64_t off = v % size;
    out.push_back({off, std::min<uint64_t>(size - off, 1 + (v >> 40) % (128 * 1024))});
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tandem::set_log_level("off");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string image = scratch_path("image");
  if (!write_file(image, data, size)) return 0;
  std::vector<uint8_t> buf(128 * 1024), again(128 * 1024);
  try {
    qcow2::Qcow2Image::Options options;
    options.read_only = true;
    auto img = qcow2::Qcow2Image::open(image, options);
    // Images may claim huge sizes: keep the reads bounded.
    for (auto [off, len] : ranges(img->size(), data, size)) {
      iovec v{buf.data(), len};
      const int r1 = img->read(off, {&v, 1});
      iovec w{again.data(), len};
      const int r2 = img->read(off, {&w, 1});
      if (r1 != r2 || (r1 == 0 && std::memcmp(buf.data(), again.data(), len) != 0)) {
        std::abort();  // the same read gave another answer
      }
    }
  } catch (const Error&) {
  }
  if (read_all(image) != std::vector<uint8_t>(data, data + size)) std::abort();  // read-only

  try {
    qcow2::Qcow2Image::Options options;
    auto img = qcow2::Qcow2Image::open(image, options);
    std::memset(buf.data(), 0x5a, buf.size());
    for (auto [off, len] : ranges(img->size(), data, size)) {
      iovec v{buf.data(), std::min<uint64_t>(len, 8192)};
      (void)img->write(off, {&v, 1});
    }
    (void)img->flush();
  } catch (const Error&) {
  }
  ::unlink(image.c_str());
  return 0;
}
