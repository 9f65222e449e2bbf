#include "accel/kvm/kvm_system.h"

#include <fcntl.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>

#include "accel/kvm/kvm_abi.h"
#include "base/error.h"

namespace tandem::kvm {

int ioctl_or_throw(int fd, unsigned long request, void* arg, const char* what) {
  int ret;
  do {
    ret = ::ioctl(fd, request, arg);
  } while (ret < 0 && errno == EINTR);
  if (ret < 0) fail_errno("{}", what);
  return ret;
}

int ioctl_or_throw(int fd, unsigned long request, unsigned long arg, const char* what) {
  int ret;
  do {
    ret = ::ioctl(fd, request, arg);
  } while (ret < 0 && errno == EINTR);
  if (ret < 0) fail_errno("{}", what);
  return ret;
}

namespace {

struct RequiredCap {
  long cap;
  const char* name;
};

// Everything the x86 machine relies on. Checked up front so that a host without one of them
// fails with its name instead of a confusing ioctl error later.
constexpr RequiredCap kRequiredCaps[] = {
    {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
    {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
    {KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
    {KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR"},
    {KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"},
    {KVM_CAP_PIT2, "KVM_CAP_PIT2"},
    {KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD"},
    {KVM_CAP_IRQFD, "KVM_CAP_IRQFD"},
    {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
    {KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE"},
};

}  // namespace

KvmSystem::KvmSystem(const std::string& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    fail("cannot open {}: {} (is KVM enabled and are you in group kvm?)", path, std::strerror(err));
  }
  fd_.reset(fd);
  int version = ::ioctl(fd_.get(), KVM_GET_API_VERSION, 0);
  if (version < 0) {
    int err = errno;
    fail("{} is not a KVM device: KVM_GET_API_VERSION failed: {}", path, std::strerror(err));
  }
  if (version != KVM_API_VERSION) {
    fail("{}: KVM API version {} is not supported (Tandem needs {})", path, version,
         KVM_API_VERSION);
  }
  for (const auto& req : kRequiredCaps) {
    if (check_extension(req.cap) <= 0)
      fail("KVM on this host lacks {}, which Tandem needs", req.name);
  }
  int size = ::ioctl(fd_.get(), KVM_GET_VCPU_MMAP_SIZE, 0);
  if (size < static_cast<int>(sizeof(kvm_run))) fail_errno("KVM_GET_VCPU_MMAP_SIZE");
  vcpu_mmap_size_ = static_cast<size_t>(size);
}

int KvmSystem::check_extension(long cap) const {
  int ret = ::ioctl(fd_.get(), KVM_CHECK_EXTENSION, cap);
  return ret < 0 ? 0 : ret;
}

unsigned KvmSystem::max_vcpus() const {
  int n = check_extension(KVM_CAP_MAX_VCPUS);
  if (n <= 0) n = check_extension(KVM_CAP_NR_VCPUS);
  if (n <= 0) n = 4;
  return static_cast<unsigned>(n);
}

std::vector<kvm_cpuid_entry2> KvmSystem::supported_cpuid() const {
  // The kernel says E2BIG when the buffer is too small; grow until it fits.
  for (size_t n = 128; n <= 4096; n *= 2) {
    std::vector<uint8_t> buf(sizeof(abi::Cpuid2Header) + n * sizeof(kvm_cpuid_entry2));
    auto* header = reinterpret_cast<abi::Cpuid2Header*>(buf.data());
    header->nent = static_cast<uint32_t>(n);
    if (::ioctl(fd_.get(), abi::kGetSupportedCpuid, header) == 0) {
      std::vector<kvm_cpuid_entry2> entries(header->nent);
      std::memcpy(entries.data(), buf.data() + sizeof(*header),
                  entries.size() * sizeof(kvm_cpuid_entry2));
      return entries;
    }
    if (errno != E2BIG) fail_errno("KVM_GET_SUPPORTED_CPUID");
  }
  fail("KVM_GET_SUPPORTED_CPUID: more than 4096 entries");
}

std::vector<uint32_t> KvmSystem::msr_index_list() const {
  abi::MsrListHeader probe{};
  if (::ioctl(fd_.get(), abi::kGetMsrIndexList, &probe) < 0 && errno != E2BIG) {
    fail_errno("KVM_GET_MSR_INDEX_LIST");
  }
  std::vector<uint8_t> buf(sizeof(abi::MsrListHeader) + probe.nmsrs * sizeof(uint32_t));
  auto* header = reinterpret_cast<abi::MsrListHeader*>(buf.data());
  header->nmsrs = probe.nmsrs;
  ioctl_or_throw(fd_.get(), abi::kGetMsrIndexList, header, "KVM_GET_MSR_INDEX_LIST");
  std::vector<uint32_t> indices(header->nmsrs);
  std::memcpy(indices.data(), buf.data() + sizeof(*header), indices.size() * sizeof(uint32_t));
  return indices;
}

}  // namespace tandem::kvm
