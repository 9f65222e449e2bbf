// Test helpers: run a `tandem img` command through the library with its output captured, and
// qemu-img's answer for comparison (block/qcow2/qemu_tools.h).
#pragma once

#include <stdio.h>

#include <string>
#include <vector>

#include "block/qcow2/qemu_tools.h"
#include "img/img.h"

namespace tandem::img::testing {

using qcow2::testing::must_run;
using qcow2::testing::run_command;
using qcow2::testing::ScratchDir;

struct Result {
  int status;
  std::string out;
  std::string err;
};

// A FILE* writing into a string.
class MemoryStream {
 public:
  MemoryStream() : file_(::open_memstream(&data_, &size_)) {}
  ~MemoryStream() {
    if (file_) std::fclose(file_);
    std::free(data_);
  }
  MemoryStream(const MemoryStream&) = delete;
  MemoryStream& operator=(const MemoryStream&) = delete;
  std::FILE* file() { return file_; }
  std::string text() {
    std::fflush(file_);
    return std::string(data_, size_);
  }

 private:
  char* data_ = nullptr;
  size_t size_ = 0;
  std::FILE* file_;
};

inline Result run_img(const std::vector<std::string>& args) {
  MemoryStream out, err;
  int status = img_main(args, Io{out.file(), err.file()});
  return {status, out.text(), err.text()};
}

// qemu-img's stdout and stderr apart.
inline Result run_qemu(const std::string& command) {
  ScratchDir tmp;
  std::string err_file = tmp.file("stderr");
  FILE* p = ::popen((command + " 2>'" + err_file + "'").c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = ::pclose(p);
  std::vector<uint8_t> err = qcow2::testing::read_file(err_file);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out, std::string(err.begin(), err.end())};
}

inline std::string quote(const std::string& s) {
  return "'" + s + "'";
}

inline size_t count_lines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

}  // namespace tandem::img::testing
