#include "accel/tcg/perf_map.h"

#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "base/log.h"

namespace tandem::tcg {

PerfMap* PerfMap::from_environment() {
  static const std::unique_ptr<PerfMap> map = []() -> std::unique_ptr<PerfMap> {
    const char* env = std::getenv("TANDEM_PERF_MAP");
    if (!env || !*env || std::string(env) == "0") return nullptr;
    const std::string path = "/tmp/perf-" + std::to_string(getpid()) + ".map";
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (!f) {
      TLOG_WARN("TANDEM_PERF_MAP: cannot create {}", path);
      return nullptr;
    }
    return std::unique_ptr<PerfMap>(new PerfMap(f));
  }();
  return map.get();
}

void PerfMap::add(const void* code, uint32_t size, uint64_t guest_pc, uint64_t guest_phys) {
  std::lock_guard lock(mutex_);
  if (guest_pc == guest_phys) {
    std::fprintf(file_, "%lx %x tb_%lx\n", reinterpret_cast<uintptr_t>(code), size, guest_pc);
  } else {
    std::fprintf(file_, "%lx %x tb_%lx_p%lx\n", reinterpret_cast<uintptr_t>(code), size, guest_pc,
                 guest_phys);
  }
}

PerfMap::~PerfMap() {
  std::fclose(file_);
}

}  // namespace tandem::tcg
