// Linux perf's map file for JIT code (/tmp/perf-<pid>.map): one line per translation block,
// "start size name", so `perf report` names the guest code the host spent its time in instead
// of lumping it all into "[JIT]". Turned on with TANDEM_PERF_MAP=1 (QEMU's -perfmap). After a
// flush (the pinned registers are chosen early in a run) code addresses are reused and perf
// keeps the first name it read for an address: profile the steady state, or read with care.
#pragma once

#include <cstdint>
#include <cstdio>
#include <mutex>

namespace tandem::tcg {

class PerfMap {
 public:
  // The process's map, opened on first use; nullptr when TANDEM_PERF_MAP is unset or the file
  // cannot be created (a warning says so once).
  static PerfMap* from_environment();

  // Every engine (one per hart) adds its blocks here; the file is shared, hence the lock.
  void add(const void* code, uint32_t size, uint64_t guest_pc, uint64_t guest_phys);

  ~PerfMap();

 private:
  explicit PerfMap(std::FILE* f) : file_(f) {}
  std::mutex mutex_;
  std::FILE* file_;
};

}  // namespace tandem::tcg
