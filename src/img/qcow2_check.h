// `tandem img check` for qcow2: recomputes every cluster's references from the image's metadata
// (header, active and snapshot L1/L2 tables, compressed clusters, snapshot table, refcount table
// and blocks), compares them with the stored refcounts and the COPIED flags, and reports or
// repairs the differences as QEMU does (the same messages on `err`, the same counts).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace tandem::img {

struct CheckResult {
  uint64_t corruptions = 0;
  uint64_t leaks = 0;
  uint64_t check_errors = 0;
  uint64_t corruptions_fixed = 0;
  uint64_t leaks_fixed = 0;
  uint64_t image_end_offset = 0;
  uint64_t total_clusters = 0;
  uint64_t allocated_clusters = 0;
  uint64_t fragmented_clusters = 0;
  uint64_t compressed_clusters = 0;
};

enum CheckFix : unsigned {
  kFixNone = 0,
  kFixLeaks = 1,   // refcounts above the references drop to them
  kFixErrors = 2,  // refcounts below the references, COPIED flags, broken refcount structure
};

// Throws Error when the image cannot be opened or its header is invalid (nothing to check).
CheckResult check_qcow2(const std::string& path, unsigned fix, std::FILE* err);

}  // namespace tandem::img
