// Runs a KVM VM: one host thread per vCPU, each in a KVM_RUN loop, and the VmControl the
// devices use to end it.
//
// Stopping: request_exit() records the first status and kicks every vCPU thread. A kick sets
// kvm_run->immediate_exit (covers a thread about to enter KVM_RUN) and sends it kKickSignal,
// which is blocked on vCPU threads except inside KVM_RUN (KVM_SET_SIGNAL_MASK), so it only
// ever interrupts the guest, never a device handler's system call. run() joins the threads
// and returns the recorded status. Errors on a vCPU thread print one message and end the VM
// with kExitVmmError; they never escape the thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "hw/core/vm_control.h"
#include "memory/io_bus.h"

namespace tandem::kvm {

class KvmVcpu;

class VmRunner : public VmControl {
 public:
  // The buses must outlive the runner. `irqchip`: the VM has the in-kernel irqchip.
  VmRunner(const IoBus& pio, const IoBus& mmio, bool irqchip);
  ~VmRunner() override;
  VmRunner(const VmRunner&) = delete;
  VmRunner& operator=(const VmRunner&) = delete;

  // Adds a vCPU to run; before run(). The vCPU must outlive the runner's run().
  void add_vcpu(KvmVcpu& vcpu);

  // Starts one thread per vCPU, waits until the VM stops and all threads are joined, and
  // returns the exit status. Call once.
  int run();

  void request_exit(int status) override;
  // A guest reset ends the VMM with status 0, as QEMU -no-reboot does.
  void request_reset() override;

  bool stopping() const { return stopping_.load(std::memory_order_acquire); }
  // The recorded status (nullopt while the VM runs).
  std::optional<int> exit_status() const;

  // Real-time signal used to kick vCPU threads out of KVM_RUN.
  static int kick_signal();

 private:
  struct Vcpu {
    KvmVcpu* vcpu;
    std::thread thread;
  };
  void vcpu_thread(KvmVcpu& vcpu);
  void vcpu_loop(KvmVcpu& vcpu);
  void kick_locked();

  const IoBus& pio_;
  const IoBus& mmio_;
  bool irqchip_;
  std::vector<Vcpu> vcpus_;
  mutable std::mutex mutex_;
  std::condition_variable stopped_cv_;
  std::atomic<bool> stopping_{false};
  std::optional<int> status_;
};

}  // namespace tandem::kvm
