#include "accel/kvm/kvm_irq.h"

#include <linux/kvm.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "accel/kvm/kvm_vm.h"
#include "base/error.h"
#include "base/log.h"

namespace tandem::kvm {

void KvmIrqLine::set_level(bool asserted) {
  try {
    vm_.set_irq_line(gsi_, asserted);
  } catch (const Error& e) {
    static std::atomic<bool> reported{false};
    if (!reported.exchange(true)) TLOG_ERROR("{}", e.what());
  }
}

UniqueFd make_eventfd() {
  int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) fail_errno("eventfd");
  return UniqueFd(fd);
}

IoEventFd::IoEventFd(const KvmVm& vm, Space space, uint64_t addr, uint32_t len,
                     std::optional<uint64_t> datamatch, UniqueFd fd)
    : vm_(vm),
      fd_(fd ? std::move(fd) : make_eventfd()),
      addr_(addr),
      len_(len),
      flags_(0),
      datamatch_(datamatch.value_or(0)) {
  if (space == Space::kPio) flags_ |= KVM_IOEVENTFD_FLAG_PIO;
  if (datamatch) flags_ |= KVM_IOEVENTFD_FLAG_DATAMATCH;
  if (!(len == 1 || len == 2 || len == 4 || len == 8 || (len == 0 && space == Space::kMmio))) {
    fail("ioeventfd at {:#x}: bad access length {}", addr, len);
  }
  kvm_ioeventfd req{};
  req.datamatch = datamatch_;
  req.addr = addr_;
  req.len = len_;
  req.fd = fd_.get();
  req.flags = flags_;
  if (::ioctl(vm_.fd(), KVM_IOEVENTFD, &req) < 0) {
    fail_errno("KVM_IOEVENTFD {} {:#x} len {}", space == Space::kPio ? "pio" : "mmio", addr, len);
  }
}

IoEventFd::~IoEventFd() {
  kvm_ioeventfd req{};
  req.datamatch = datamatch_;
  req.addr = addr_;
  req.len = len_;
  req.fd = fd_.get();
  req.flags = flags_ | KVM_IOEVENTFD_FLAG_DEASSIGN;
  if (::ioctl(vm_.fd(), KVM_IOEVENTFD, &req) < 0) {
    TLOG_WARN("KVM_IOEVENTFD deassign {:#x}: {}", addr_, std::strerror(errno));
  }
}

uint64_t IoEventFd::consume() {
  uint64_t value = 0;
  if (::read(fd_.get(), &value, sizeof(value)) != sizeof(value)) return 0;
  return value;
}

IrqFd::IrqFd(const KvmVm& vm, uint32_t gsi) : vm_(vm), fd_(make_eventfd()), gsi_(gsi) {
  kvm_irqfd req{};
  req.fd = static_cast<uint32_t>(fd_.get());
  req.gsi = gsi;
  if (::ioctl(vm_.fd(), KVM_IRQFD, &req) < 0) fail_errno("KVM_IRQFD gsi {}", gsi);
}

IrqFd::~IrqFd() {
  kvm_irqfd req{};
  req.fd = static_cast<uint32_t>(fd_.get());
  req.gsi = gsi_;
  req.flags = KVM_IRQFD_FLAG_DEASSIGN;
  if (::ioctl(vm_.fd(), KVM_IRQFD, &req) < 0) {
    TLOG_WARN("KVM_IRQFD deassign gsi {}: {}", gsi_, std::strerror(errno));
  }
}

void IrqFd::trigger() {
  uint64_t one = 1;
  // EAGAIN means the counter is saturated: an injection is already pending, which is enough.
  if (::write(fd_.get(), &one, sizeof(one)) < 0 && errno != EAGAIN) {
    TLOG_ERROR("irqfd gsi {}: write: {}", gsi_, std::strerror(errno));
  }
}

}  // namespace tandem::kvm
