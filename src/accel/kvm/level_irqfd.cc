#include "accel/kvm/level_irqfd.h"

#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "accel/kvm/kvm_irq.h"
#include "accel/kvm/kvm_vm.h"
#include "base/error.h"
#include "base/event_loop.h"
#include "base/log.h"

namespace tandem::kvm {

LevelIrqFd::LevelIrqFd(const KvmVm& vm, uint32_t gsi, EventLoop& loop)
    : vm_(vm), loop_(loop), gsi_(gsi), irqfd_(make_eventfd()), resamplefd_(make_eventfd()) {
  if (!vm_.has_irqchip()) fail("level-triggered irqfd on GSI {}: the VM has no irqchip", gsi);
  if (vm_.check_extension(KVM_CAP_IRQFD_RESAMPLE) <= 0) {
    fail("level-triggered interrupts need KVM_CAP_IRQFD_RESAMPLE, which this host lacks");
  }
  kvm_irqfd req{};
  req.fd = static_cast<uint32_t>(irqfd_.get());
  req.gsi = gsi;
  req.flags = KVM_IRQFD_FLAG_RESAMPLE;
  req.resamplefd = static_cast<uint32_t>(resamplefd_.get());
  if (::ioctl(vm_.fd(), KVM_IRQFD, &req) < 0) fail_errno("KVM_IRQFD resample gsi {}", gsi);
  loop_.add_fd(resamplefd_.get(), EPOLLIN, [this](uint32_t) { on_resample(); });
}

LevelIrqFd::~LevelIrqFd() {
  loop_.remove_fd(resamplefd_.get());
  kvm_irqfd req{};
  req.fd = static_cast<uint32_t>(irqfd_.get());
  req.gsi = gsi_;
  req.flags = KVM_IRQFD_FLAG_DEASSIGN;  // also drops the GSI's resampler (and de-asserts it)
  if (::ioctl(vm_.fd(), KVM_IRQFD, &req) < 0) {
    TLOG_WARN("KVM_IRQFD deassign gsi {}: {}", gsi_, std::strerror(errno));
  }
}

void LevelIrqFd::set_level(bool asserted) {
  level_.store(asserted);
  if (asserted) trigger();
}

void LevelIrqFd::trigger() {
  uint64_t one = 1;
  // EAGAIN: the counter is saturated, so an assertion is already pending.
  if (::write(irqfd_.get(), &one, sizeof one) < 0 && errno != EAGAIN) {
    TLOG_ERROR("irqfd gsi {}: write: {}", gsi_, std::strerror(errno));
  }
}

void LevelIrqFd::on_resample() {
  uint64_t count;
  if (::read(resamplefd_.get(), &count, sizeof count) != sizeof count) return;  // spurious
  // KVM de-asserted the GSI at the EOI. A device whose condition still holds asserts it again;
  // a set_level(true) racing with this read triggers by itself, so nothing is lost.
  if (level_.load()) {
    reasserts_.fetch_add(1);
    trigger();
  }
}

}  // namespace tandem::kvm
