#include "accel/kvm/vm_runner.h"

#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "accel/kvm/exit_handler.h"
#include "accel/kvm/exit_status.h"
#include "accel/kvm/kvm_vcpu.h"
#include "accel/kvm/register_dump.h"
#include "base/error.h"
#include "base/log.h"

namespace tandem::kvm {

namespace {

void no_op_handler(int) {}

void install_kick_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_handler = no_op_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: KVM_RUN must return EINTR
    if (::sigaction(VmRunner::kick_signal(), &sa, nullptr) < 0) fail_errno("sigaction");
  });
}

void report(const std::string& message) {
  if (message.empty()) return;
  std::fprintf(stderr, "tandem: %s\n", message.c_str());
  std::fflush(stderr);
}

}  // namespace

int VmRunner::kick_signal() {
  return SIGRTMIN + 3;
}

VmRunner::VmRunner(const IoBus& pio, const IoBus& mmio, bool irqchip)
    : pio_(pio), mmio_(mmio), irqchip_(irqchip) {
  install_kick_handler();
}

VmRunner::~VmRunner() {
  // run() joins; a runner destroyed without run() (or after an exception in it) must not leave
  // joinable threads behind.
  request_exit(kExitVmmError);
  for (auto& v : vcpus_) {
    if (v.thread.joinable()) v.thread.join();
  }
}

void VmRunner::add_vcpu(KvmVcpu& vcpu) {
  std::lock_guard lock(mutex_);
  vcpus_.push_back({&vcpu, {}});
}

std::optional<int> VmRunner::exit_status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

void VmRunner::request_exit(int status) {
  std::lock_guard lock(mutex_);
  if (status_) return;
  status_ = status;
  stopping_.store(true, std::memory_order_release);
  kick_locked();
  stopped_cv_.notify_all();
}

void VmRunner::request_reset() {
  TLOG_INFO("guest requested a reset; exiting (Tandem does not reboot guests)");
  request_exit(kExitPoweredOff);
}

void VmRunner::kick_locked() {
  for (auto& v : vcpus_) {
    if (!v.thread.joinable()) continue;
    // immediate_exit is read by the kernel on entry to KVM_RUN; the signal covers a thread
    // already inside it (or asleep in an in-kernel HLT).
    std::atomic_ref<uint8_t>(v.vcpu->run()->immediate_exit).store(1, std::memory_order_release);
    pthread_kill(v.thread.native_handle(), kick_signal());
  }
}

int VmRunner::run() {
  {
    std::unique_lock lock(mutex_);
    if (vcpus_.empty()) fail("VM has no vCPUs");
    for (auto& v : vcpus_) {
      KvmVcpu* vcpu = v.vcpu;
      v.thread = std::thread([this, vcpu] { vcpu_thread(*vcpu); });
    }
    // Threads started after a stop request see stopping_ and leave at once.
    if (stopping()) kick_locked();
    // request_exit() records the status and kicks in one critical section, so once this wait
    // returns no other thread touches the std::thread objects: joining them is then safe.
    stopped_cv_.wait(lock, [this] { return stopping(); });
  }
  for (auto& v : vcpus_) v.thread.join();
  std::lock_guard lock(mutex_);
  return status_.value_or(kExitVmmError);
}

void VmRunner::vcpu_thread(KvmVcpu& vcpu) {
  try {
    vcpu_loop(vcpu);
  } catch (const std::exception& e) {
    report(fmt::format("vCPU {}: {}", vcpu.id(), e.what()));
    request_exit(kExitVmmError);
  }
}

void VmRunner::vcpu_loop(KvmVcpu& vcpu) {
  // Block the kick signal on this thread, and let KVM unblock it only while in KVM_RUN.
  sigset_t kick, old_mask;
  sigemptyset(&kick);
  sigaddset(&kick, kick_signal());
  if (int err = pthread_sigmask(SIG_BLOCK, &kick, &old_mask)) {
    throw SystemError("pthread_sigmask", err);
  }
  sigset_t run_mask = old_mask;
  sigdelset(&run_mask, kick_signal());
  vcpu.set_signal_mask(run_mask);

  ExitContext ctx;
  ctx.pio = &pio_;
  ctx.mmio = &mmio_;
  ctx.irqchip = irqchip_;
  ctx.vcpu_id = vcpu.id();
  ctx.dump_registers = [&vcpu] { return dump_registers(vcpu); };

  kvm_run* run = vcpu.run();
  while (!stopping()) {
    int ret = ::ioctl(vcpu.fd(), KVM_RUN, 0);
    if (ret < 0) {
      int err = errno;
      if (err == EINTR || err == EAGAIN) {
        // A kick (or another signal). Drop a pending kick that arrived outside KVM_RUN so it
        // does not interrupt the next entry, and clear immediate_exit unless we are stopping.
        timespec zero{};
        while (sigtimedwait(&kick, nullptr, &zero) > 0) {
        }
        if (!stopping()) {
          std::atomic_ref<uint8_t>(run->immediate_exit).store(0, std::memory_order_relaxed);
        }
        continue;
      }
      report(fmt::format("vCPU {}: KVM_RUN failed: {}\n{}", vcpu.id(), std::strerror(err),
                         dump_registers(vcpu)));
      request_exit(kExitVmmError);
      return;
    }
    ExitOutcome outcome = handle_exit(*run, vcpu.run_size(), ctx);
    switch (outcome.kind) {
      case ExitOutcome::Kind::kContinue:
        break;
      case ExitOutcome::Kind::kHalted: {
        TLOG_DEBUG("vCPU {} halted without an irqchip; waiting for the VM to stop", vcpu.id());
        std::unique_lock lock(mutex_);
        stopped_cv_.wait(lock, [this] { return stopping(); });
        return;
      }
      case ExitOutcome::Kind::kStop:
        report(outcome.message);
        request_exit(outcome.status);
        return;
    }
  }
}

}  // namespace tandem::kvm
