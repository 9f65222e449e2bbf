// The KVM system fd (/dev/kvm): API version, capabilities, and the host-wide lists a VMM reads
// before building a VM (supported CPUID, MSR index list). KvmVm and KvmVcpu hang off it, in the
// same tree shape as KVM's own fds.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/unique_fd.h"

namespace tandem::kvm {

// ioctl that retries on EINTR and throws SystemError naming `what` on failure.
int ioctl_or_throw(int fd, unsigned long request, void* arg, const char* what);
int ioctl_or_throw(int fd, unsigned long request, unsigned long arg, const char* what);

class KvmSystem {
 public:
  static constexpr const char* kDefaultPath = "/dev/kvm";

  // Opens the device node, checks KVM_GET_API_VERSION == 12 and the capabilities Tandem needs.
  // Throws Error with a one-line message (and a hint when the node is missing/inaccessible).
  explicit KvmSystem(const std::string& path = kDefaultPath);

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }

  // KVM_CHECK_EXTENSION on the system fd: 0 when absent, else a capability-specific value.
  int check_extension(long cap) const;
  size_t vcpu_mmap_size() const { return vcpu_mmap_size_; }
  // KVM_CAP_MAX_VCPUS (falls back to KVM_CAP_NR_VCPUS, then 4, as api.rst says).
  unsigned max_vcpus() const;

  std::vector<kvm_cpuid_entry2> supported_cpuid() const;
  std::vector<uint32_t> msr_index_list() const;

 private:
  std::string path_;
  UniqueFd fd_;
  size_t vcpu_mmap_size_ = 0;
};

}  // namespace tandem::kvm
