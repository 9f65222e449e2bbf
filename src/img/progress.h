// qemu-img's -p progress: "    (12.34/100%)" redrawn in place with '\r', redrawn only when it
// moved by at least 1% (and at the end), finished with a newline.
#pragma once

#include <cstdint>
#include <cstdio>

namespace tandem::img {

class Progress {
 public:
  // Disabled: prints nothing.
  Progress(std::FILE* out, bool enabled, uint64_t total);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void advance(uint64_t bytes);
  void finish();  // prints 100% and the newline (also done by the destructor)

 private:
  void print(double percent);

  std::FILE* out_;
  bool enabled_;
  uint64_t total_;
  uint64_t done_ = 0;
  double printed_ = -1;
  bool finished_ = false;
};

}  // namespace tandem::img
