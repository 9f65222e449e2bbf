#include "img/progress.h"

#include <algorithm>

namespace tandem::img {

Progress::Progress(std::FILE* out, bool enabled, uint64_t total)
    : out_(out), enabled_(enabled), total_(total) {
  if (enabled_) print(0);
}

Progress::~Progress() {
  finish();
}

void Progress::print(double percent) {
  std::fprintf(out_, "    (%4.2f/100%%)\r", percent);
  std::fflush(out_);
  printed_ = percent;
}

void Progress::advance(uint64_t bytes) {
  done_ = std::min(total_, done_ + bytes);
  if (!enabled_ || finished_) return;
  double percent = total_ ? 100.0 * static_cast<double>(done_) / static_cast<double>(total_) : 100;
  if (percent - printed_ >= 1.0) print(percent);
}

void Progress::finish() {
  if (!enabled_ || finished_) return;
  finished_ = true;
  print(100);
  std::fputc('\n', out_);
  std::fflush(out_);
}

}  // namespace tandem::img
