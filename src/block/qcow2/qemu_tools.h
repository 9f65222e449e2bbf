// Test-only: QEMU's image tools (qemu-img, qemu-io) as the reference the qcow2 driver is checked
// against, a scratch directory, and whole-image reads through Qcow2Image.
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "base/error.h"
#include "block/qcow2/qcow2_format.h"
#include "block/qcow2/qcow2_image.h"

namespace tandem::qcow2::testing {

inline bool have_qemu_img() {
  static const bool have = ::system("qemu-img --version >/dev/null 2>&1") == 0 &&
                           ::system("qemu-io --version >/dev/null 2>&1") == 0;
  return have;
}

#define SKIP_WITHOUT_QEMU_IMG()                                      \
  do {                                                               \
    if (!::tandem::qcow2::testing::have_qemu_img()) {                \
      GTEST_SKIP() << "qemu-img/qemu-io not installed (qemu-utils)"; \
    }                                                                \
  } while (0)

struct CommandResult {
  int status;  // exit status, or -1 if it did not exit normally
  std::string output;
};

// Runs a shell command, stdout and stderr captured together.
inline CommandResult run_command(const std::string& command) {
  CommandResult result{-1, ""};
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) fail_errno("popen {}", command);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) result.output.append(buf, n);
  int status = ::pclose(p);
  if (WIFEXITED(status)) result.status = WEXITSTATUS(status);
  return result;
}

// Runs a command that must succeed; throws Error with its output otherwise.
inline std::string must_run(const std::string& command) {
  CommandResult r = run_command(command);
  if (r.status != 0) fail("'{}' failed ({}): {}", command, r.status, r.output);
  return r.output;
}

class ScratchDir {
 public:
  ScratchDir() {
    const char* tmp = getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/tandem-qcow2-XXXXXX";
    if (!::mkdtemp(templ.data())) fail_errno("mkdtemp {}", templ);
    path_ = templ;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read {}", path);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

inline void write_file(const std::string& path, const std::vector<uint8_t>& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  if (!out) fail("cannot write {}", path);
}

// Patches `bytes` at `offset` of a file in place.
inline void patch_file(const std::string& path, uint64_t offset,
                       const std::vector<uint8_t>& bytes) {
  std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!f) fail("cannot patch {}", path);
}
inline void patch_be64(const std::string& path, uint64_t offset, uint64_t v) {
  std::vector<uint8_t> b(8);
  store_be64(b.data(), v);
  patch_file(path, offset, b);
}
inline void patch_be32(const std::string& path, uint64_t offset, uint32_t v) {
  std::vector<uint8_t> b(4);
  store_be32(b.data(), v);
  patch_file(path, offset, b);
}
inline uint64_t file_be64(const std::string& path, uint64_t offset) {
  std::vector<uint8_t> d = read_file(path);
  if (offset + 8 > d.size()) fail("{}: offset {} past the end", path, offset);
  return load_be64(&d[offset]);
}

// The guest's view of an image according to QEMU.
inline std::vector<uint8_t> qemu_contents(const ScratchDir& dir, const std::string& image,
                                          const std::string& extra = "") {
  std::string raw = dir.file("qemu-view.raw");
  must_run("qemu-img convert -U " + extra + " -O raw '" + image + "' '" + raw + "'");
  std::vector<uint8_t> data = read_file(raw);
  ::unlink(raw.c_str());
  return data;
}

// The guest's view through our driver.
inline std::vector<uint8_t> our_contents(Qcow2Image& image) {
  std::vector<uint8_t> data(image.size());
  iovec v{data.data(), data.size()};
  int r = image.read(0, {&v, 1});
  if (r < 0) fail("reading {} failed: {}", image.path(), r);
  return data;
}

inline std::vector<uint8_t> our_contents(const std::string& path) {
  Qcow2Image::Options options;
  options.read_only = true;
  return our_contents(*Qcow2Image::open(path, options));
}

// `qemu-img check` output and exit status (0 clean, 2 corruptions, 3 leaks only).
inline CommandResult qemu_check(const std::string& image) {
  return run_command("qemu-img check '" + image + "'");
}

inline std::vector<uint8_t> random_bytes(std::mt19937_64& rng, size_t n) {
  std::vector<uint8_t> out((n + 7) & ~size_t{7});
  for (size_t i = 0; i < out.size(); i += 8) {
    uint64_t v = rng();
    std::memcpy(&out[i], &v, 8);
  }
  out.resize(n);
  return out;
}

}  // namespace tandem::qcow2::testing
