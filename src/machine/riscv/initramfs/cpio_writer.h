// Writes a cpio archive in the "newc" format (magic 070701), the format Linux unpacks as an
// initramfs: per entry a 110-byte ASCII header of 13 eight-digit hex fields, the NUL-terminated
// name padded so that header+name is a multiple of 4, the data padded to 4, and a final
// "TRAILER!!!" entry. Parent directories are added on demand (Linux creates no missing parents).
#pragma once

#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tandem {

class CpioWriter {
 public:
  // mtime of every entry (reproducible archives by default).
  explicit CpioWriter(uint32_t mtime = 0) : mtime_(mtime) {}

  // `path` is relative ("bin/sh"; a leading '/' or "./" is dropped). Adding a path twice, an
  // empty path, or one with a ".." component throws Error. Modes are permission bits only.
  void add_directory(std::string_view path, uint32_t perm = 0755);
  void add_file(std::string_view path, std::span<const uint8_t> data, uint32_t perm = 0644);
  void add_file(std::string_view path, std::string_view text, uint32_t perm = 0644);
  void add_symlink(std::string_view path, std::string_view target);
  void add_char_device(std::string_view path, uint32_t major, uint32_t minor, uint32_t perm = 0600);

  bool contains(std::string_view path) const;

  // Appends the trailer and returns the archive. The writer is empty afterwards.
  std::vector<uint8_t> finish();

 private:
  static std::string normalize(std::string_view path);
  void ensure_parents(const std::string& path);
  void entry(const std::string& name, uint32_t mode, uint32_t nlink, uint32_t rdev_major,
             uint32_t rdev_minor, std::span<const uint8_t> data);
  void pad4();

  uint32_t mtime_;
  uint32_t next_ino_ = 1;
  std::set<std::string, std::less<>> paths_;
  std::vector<uint8_t> out_;
};

}  // namespace tandem
