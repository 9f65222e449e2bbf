#include "machine/riscv/initramfs/cpio_writer.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include "base/error.h"

namespace tandem {

std::string CpioWriter::normalize(std::string_view path) {
  while (path.starts_with("./")) path.remove_prefix(2);
  while (path.starts_with('/')) path.remove_prefix(1);
  while (path.ends_with('/')) path.remove_suffix(1);
  if (path.empty()) fail("cpio: empty path");
  std::string out(path);
  size_t start = 0;
  while (start <= out.size()) {
    size_t end = out.find('/', start);
    if (end == std::string::npos) end = out.size();
    std::string_view part(out.data() + start, end - start);
    if (part.empty() || part == "." || part == "..")
      fail("cpio: path '{}' has an empty, '.' or '..' component", path);
    start = end + 1;
  }
  return out;
}

bool CpioWriter::contains(std::string_view path) const {
  return paths_.find(normalize(path)) != paths_.end();
}

void CpioWriter::ensure_parents(const std::string& path) {
  for (size_t slash = path.find('/'); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    std::string parent = path.substr(0, slash);
    if (!paths_.contains(parent)) {
      paths_.insert(parent);
      entry(parent, S_IFDIR | 0755, 2, 0, 0, {});
    }
  }
}

void CpioWriter::add_directory(std::string_view path, uint32_t perm) {
  std::string p = normalize(path);
  if (paths_.contains(p)) fail("cpio: '{}' added twice", p);
  ensure_parents(p);
  paths_.insert(p);
  entry(p, S_IFDIR | (perm & 07777), 2, 0, 0, {});
}

void CpioWriter::add_file(std::string_view path, std::span<const uint8_t> data, uint32_t perm) {
  std::string p = normalize(path);
  if (paths_.contains(p)) fail("cpio: '{}' added twice", p);
  if (data.size() > 0xffffffffull) fail("cpio: '{}' is larger than 4 GiB", p);
  ensure_parents(p);
  paths_.insert(p);
  entry(p, S_IFREG | (perm & 07777), 1, 0, 0, data);
}

void CpioWriter::add_file(std::string_view path, std::string_view text, uint32_t perm) {
  add_file(path, {reinterpret_cast<const uint8_t*>(text.data()), text.size()}, perm);
}

void CpioWriter::add_symlink(std::string_view path, std::string_view target) {
  std::string p = normalize(path);
  if (paths_.contains(p)) fail("cpio: '{}' added twice", p);
  if (target.empty()) fail("cpio: symlink '{}' has an empty target", p);
  ensure_parents(p);
  paths_.insert(p);
  // A symlink's data is its target, without a NUL.
  entry(p, S_IFLNK | 0777, 1, 0, 0,
        {reinterpret_cast<const uint8_t*>(target.data()), target.size()});
}

void CpioWriter::add_char_device(std::string_view path, uint32_t major, uint32_t minor,
                                 uint32_t perm) {
  std::string p = normalize(path);
  if (paths_.contains(p)) fail("cpio: '{}' added twice", p);
  ensure_parents(p);
  paths_.insert(p);
  entry(p, S_IFCHR | (perm & 07777), 1, major, minor, {});
}

void CpioWriter::pad4() {
  while (out_.size() % 4 != 0) out_.push_back(0);
}

void CpioWriter::entry(const std::string& name, uint32_t mode, uint32_t nlink, uint32_t rdev_major,
                       uint32_t rdev_minor, std::span<const uint8_t> data) {
  uint32_t ino = name == "TRAILER!!!" ? 0 : next_ino_++;
  // Fields: ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor
  // namesize (with the NUL) check.
  std::string header = fmt::format(
      "070701{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}", ino,
      mode, 0, 0, nlink, name == "TRAILER!!!" ? 0 : mtime_, data.size(), 0, 0, rdev_major,
      rdev_minor, name.size() + 1, 0);
  out_.insert(out_.end(), header.begin(), header.end());
  out_.insert(out_.end(), name.begin(), name.end());
  out_.push_back(0);
  pad4();
  out_.insert(out_.end(), data.begin(), data.end());
  pad4();
}

std::vector<uint8_t> CpioWriter::finish() {
  entry("TRAILER!!!", 0, 1, 0, 0, {});
  std::vector<uint8_t> result = std::move(out_);
  out_.clear();
  paths_.clear();
  next_ino_ = 1;
  return result;
}

}  // namespace tandem
