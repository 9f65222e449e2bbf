// Test-only: records every write, hole and fdatasync an image issues (Options::observer), to
// replay them as a power cut would have left the file: everything before some fdatasync, plus
// any subset of the writes after it (the page cache writes back in any order).
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "block/iov_util.h"
#include "block/qcow2/image_file.h"

namespace tandem::qcow2::testing {

class Recorder final : public WriteObserver {
 public:
  struct Record {
    uint64_t offset;
    std::vector<uint8_t> data;  // empty with length > 0: a hole (reads zeroes)
    uint64_t length;
  };
  void on_write(uint64_t offset, std::span<const iovec> iov) override {
    Record r{offset, {}, iov_total(iov).value_or(0)};
    r.data.resize(r.length);
    copy_from_iov(iov, 0, r.data.data(), r.length);
    epochs_.back().push_back(std::move(r));
  }
  void on_punch_hole(uint64_t offset, uint64_t length) override {
    epochs_.back().push_back({offset, {}, length});
  }
  void on_sync() override { epochs_.emplace_back(); }

  size_t syncs() const { return epochs_.size() - 1; }
  // The file after a crash: `original`, every write before sync number `synced`, and the writes
  // after it that `keep` selects.
  std::vector<uint8_t> replay(const std::vector<uint8_t>& original, size_t synced,
                              std::mt19937_64& keep) const {
    std::vector<uint8_t> file = original;
    auto apply = [&](const Record& r) {
      if (file.size() < r.offset + r.length) file.resize(r.offset + r.length);
      if (r.data.empty()) {
        std::fill(file.begin() + r.offset, file.begin() + r.offset + r.length, 0);
      } else {
        std::copy(r.data.begin(), r.data.end(), file.begin() + r.offset);
      }
    };
    for (size_t e = 0; e < synced; ++e) {
      for (const Record& r : epochs_[e]) apply(r);
    }
    if (synced < epochs_.size()) {
      for (const Record& r : epochs_[synced]) {
        if (keep() % 2) apply(r);
      }
    }
    return file;
  }

 private:
  std::vector<std::vector<Record>> epochs_{1};
};

}  // namespace tandem::qcow2::testing
