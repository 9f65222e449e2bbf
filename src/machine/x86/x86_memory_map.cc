#include "machine/x86/x86_memory_map.h"

#include <unistd.h>

#include <algorithm>

#include "base/error.h"

namespace tandem::x86 {

RamLayout ram_layout(uint64_t memory_bytes) {
  RamLayout layout;
  layout.below_4g = std::min(memory_bytes, kMmioHoleStart);
  layout.above_4g = memory_bytes - layout.below_4g;
  return layout;
}

void add_ram_regions(GuestRam& ram, const RamLayout& layout) {
  if (layout.below_4g) ram.add_region(0, layout.below_4g);
  if (layout.above_4g) ram.add_region(kHighRamStart, layout.above_4g);
}

HostLimits host_limits(unsigned kvm_max_vcpus) {
  HostLimits host;
  long pages = ::sysconf(_SC_PHYS_PAGES);
  long page_size = ::sysconf(_SC_PAGESIZE);
  host.ram_bytes = pages > 0 && page_size > 0 ? uint64_t(pages) * uint64_t(page_size) : 0;
  host.max_vcpus = kvm_max_vcpus;
  return host;
}

void validate_config(const MachineConfig& config, const HostLimits& host) {
  if (config.accel != AccelKind::kKvm) fail("x86 guests need --accel kvm");
  const uint64_t mib = 1ull << 20;
  if (config.memory_bytes == 0) fail("memory size is 0; the x86 machine needs at least 16 MiB");
  if (config.memory_bytes < kMinMemory) {
    fail("memory size {} KiB is too small; the x86 machine needs at least 16 MiB",
         config.memory_bytes >> 10);
  }
  if (config.memory_bytes % 4096) {
    fail("memory size {} bytes is not a multiple of 4 KiB", config.memory_bytes);
  }
  if (host.ram_bytes && config.memory_bytes > host.ram_bytes) {
    fail("memory size {} MiB is more than this host's {} MiB of RAM", config.memory_bytes / mib,
         host.ram_bytes / mib);
  }
  if (config.cpus == 0) fail("the number of CPUs must be at least 1");
  unsigned max_cpus = std::min(host.max_vcpus, kMaxCpus);
  if (config.cpus > max_cpus) {
    if (host.max_vcpus < kMaxCpus) {
      fail("{} CPUs requested but KVM on this host allows at most {}", config.cpus, host.max_vcpus);
    }
    fail("{} CPUs requested but the x86 machine supports at most {}", config.cpus, kMaxCpus);
  }
  if (config.kernel.empty()) {
    if (!config.bios.empty()) {
      fail("firmware boot (-bios) is not supported for x86 guests yet; boot a kernel with -kernel");
    }
    fail("no kernel given: use -kernel (x86 guests boot a kernel directly)");
  }
  if (!config.bios.empty()) fail("-bios cannot be combined with -kernel for x86 guests");
}

}  // namespace tandem::x86
