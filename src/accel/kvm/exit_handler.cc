#include "accel/kvm/exit_handler.h"

#include <fmt/format.h>

#include <algorithm>
#include <span>

#include "accel/kvm/exit_status.h"
#include "base/log.h"

namespace tandem::kvm {

namespace {

std::string with_dump(const ExitContext& ctx, std::string message) {
  if (ctx.dump_registers) message += "\n" + ctx.dump_registers();
  return message;
}

ExitOutcome handle_io(kvm_run& run, size_t run_size, const ExitContext& ctx) {
  const auto& io = run.io;
  const uint64_t bytes = uint64_t{io.size} * io.count;
  if (!(io.size == 1 || io.size == 2 || io.size == 4) || io.count == 0 ||
      io.data_offset > run_size || bytes > run_size - io.data_offset) {
    return ExitOutcome::stop(kExitVmmError,
                             fmt::format("vCPU {}: malformed KVM_EXIT_IO (port {:#x} size {} "
                                         "count {} offset {:#x})",
                                         ctx.vcpu_id, io.port, io.size, io.count, io.data_offset));
  }
  uint8_t* data = reinterpret_cast<uint8_t*>(&run) + io.data_offset;
  // String I/O (INS/OUTS, REP) arrives as `count` accesses of `size` bytes back to back.
  for (uint32_t i = 0; i < io.count; ++i) {
    std::span<uint8_t> item(data + size_t{i} * io.size, io.size);
    if (io.direction == KVM_EXIT_IO_OUT) {
      ctx.pio->write(io.port, item);
    } else {
      ctx.pio->read(io.port, item);
    }
  }
  return ExitOutcome::resume();
}

ExitOutcome handle_mmio(kvm_run& run, const ExitContext& ctx) {
  auto& mmio = run.mmio;
  if (mmio.len == 0 || mmio.len > sizeof(mmio.data)) {
    return ExitOutcome::stop(kExitVmmError,
                             fmt::format("vCPU {}: malformed KVM_EXIT_MMIO at {:#x} (len {})",
                                         ctx.vcpu_id, mmio.phys_addr, mmio.len));
  }
  std::span<uint8_t> data(mmio.data, mmio.len);
  if (mmio.is_write) {
    ctx.mmio->write(mmio.phys_addr, data);
  } else {
    ctx.mmio->read(mmio.phys_addr, data);
  }
  return ExitOutcome::resume();
}

const char* internal_suberror_name(uint32_t suberror) {
  switch (suberror) {
    case KVM_INTERNAL_ERROR_EMULATION:
      return "instruction emulation failed";
    case KVM_INTERNAL_ERROR_SIMUL_EX:
      return "exception raised while delivering an exception";
    case KVM_INTERNAL_ERROR_DELIVERY_EV:
      return "exit while delivering an event";
    case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON:
      return "unexpected hardware exit reason";
    default:
      return "unknown suberror";
  }
}

ExitOutcome handle_system_event(const kvm_run& run, const ExitContext& ctx) {
  switch (run.system_event.type) {
    case KVM_SYSTEM_EVENT_SHUTDOWN:
      return ExitOutcome::stop(kExitPoweredOff, "");
    case KVM_SYSTEM_EVENT_RESET:
      // Like QEMU -no-reboot: a guest reboot ends the VMM successfully.
      return ExitOutcome::stop(kExitPoweredOff, "");
    case KVM_SYSTEM_EVENT_CRASH:
      return ExitOutcome::stop(
          kExitGuestCrash,
          with_dump(ctx, fmt::format("vCPU {}: guest reported a crash", ctx.vcpu_id)));
    default:
      return ExitOutcome::stop(kExitVmmError, fmt::format("vCPU {}: unexpected KVM system event {}",
                                                          ctx.vcpu_id, run.system_event.type));
  }
}

}  // namespace

const char* exit_reason_name(uint32_t reason) {
  switch (reason) {
    case KVM_EXIT_UNKNOWN:
      return "KVM_EXIT_UNKNOWN";
    case KVM_EXIT_EXCEPTION:
      return "KVM_EXIT_EXCEPTION";
    case KVM_EXIT_IO:
      return "KVM_EXIT_IO";
    case KVM_EXIT_HYPERCALL:
      return "KVM_EXIT_HYPERCALL";
    case KVM_EXIT_DEBUG:
      return "KVM_EXIT_DEBUG";
    case KVM_EXIT_HLT:
      return "KVM_EXIT_HLT";
    case KVM_EXIT_MMIO:
      return "KVM_EXIT_MMIO";
    case KVM_EXIT_IRQ_WINDOW_OPEN:
      return "KVM_EXIT_IRQ_WINDOW_OPEN";
    case KVM_EXIT_SHUTDOWN:
      return "KVM_EXIT_SHUTDOWN";
    case KVM_EXIT_FAIL_ENTRY:
      return "KVM_EXIT_FAIL_ENTRY";
    case KVM_EXIT_INTR:
      return "KVM_EXIT_INTR";
    case KVM_EXIT_SET_TPR:
      return "KVM_EXIT_SET_TPR";
    case KVM_EXIT_TPR_ACCESS:
      return "KVM_EXIT_TPR_ACCESS";
    case KVM_EXIT_NMI:
      return "KVM_EXIT_NMI";
    case KVM_EXIT_INTERNAL_ERROR:
      return "KVM_EXIT_INTERNAL_ERROR";
    case KVM_EXIT_OSI:
      return "KVM_EXIT_OSI";
    case KVM_EXIT_WATCHDOG:
      return "KVM_EXIT_WATCHDOG";
    case KVM_EXIT_EPR:
      return "KVM_EXIT_EPR";
    case KVM_EXIT_SYSTEM_EVENT:
      return "KVM_EXIT_SYSTEM_EVENT";
    case KVM_EXIT_IOAPIC_EOI:
      return "KVM_EXIT_IOAPIC_EOI";
    case KVM_EXIT_HYPERV:
      return "KVM_EXIT_HYPERV";
    case KVM_EXIT_X86_RDMSR:
      return "KVM_EXIT_X86_RDMSR";
    case KVM_EXIT_X86_WRMSR:
      return "KVM_EXIT_X86_WRMSR";
    case KVM_EXIT_DIRTY_RING_FULL:
      return "KVM_EXIT_DIRTY_RING_FULL";
    case KVM_EXIT_X86_BUS_LOCK:
      return "KVM_EXIT_X86_BUS_LOCK";
    case KVM_EXIT_XEN:
      return "KVM_EXIT_XEN";
    case KVM_EXIT_NOTIFY:
      return "KVM_EXIT_NOTIFY";
    default:
      return "unknown";
  }
}

ExitOutcome handle_exit(kvm_run& run, size_t run_size, const ExitContext& ctx) {
  switch (run.exit_reason) {
    case KVM_EXIT_IO:
      return handle_io(run, run_size, ctx);
    case KVM_EXIT_MMIO:
      return handle_mmio(run, ctx);
    case KVM_EXIT_HLT:
      // With the in-kernel irqchip the kernel keeps halted vCPUs; should one exit anyway,
      // re-entering lets the kernel sleep it. Without it, Tandem has no user-space interrupt
      // controller, so nothing can wake this vCPU again.
      return ctx.irqchip ? ExitOutcome::resume() : ExitOutcome::halted();
    case KVM_EXIT_INTR:
    case KVM_EXIT_IRQ_WINDOW_OPEN:
    case KVM_EXIT_NMI:
    case KVM_EXIT_X86_BUS_LOCK:
    case KVM_EXIT_NOTIFY:
      return ExitOutcome::resume();
    case KVM_EXIT_DEBUG:
      // Tandem does not enable guest debugging; report and carry on rather than kill the VM.
      TLOG_WARN("vCPU {}: KVM_EXIT_DEBUG (exception {} at pc {:#x}, dr6 {:#x})", ctx.vcpu_id,
                run.debug.arch.exception, run.debug.arch.pc, run.debug.arch.dr6);
      return ExitOutcome::resume();
    case KVM_EXIT_SHUTDOWN:
      return ExitOutcome::stop(
          kExitTripleFault,
          with_dump(ctx,
                    fmt::format("vCPU {}: guest triple fault (KVM_EXIT_SHUTDOWN)", ctx.vcpu_id)));
    case KVM_EXIT_SYSTEM_EVENT:
      return handle_system_event(run, ctx);
    case KVM_EXIT_FAIL_ENTRY:
      return ExitOutcome::stop(
          kExitVmmError,
          with_dump(ctx,
                    fmt::format("vCPU {}: KVM could not enter the guest: hardware entry "
                                "failure reason {:#x} (host cpu {})",
                                ctx.vcpu_id,
                                static_cast<uint64_t>(run.fail_entry.hardware_entry_failure_reason),
                                run.fail_entry.cpu)));
    case KVM_EXIT_INTERNAL_ERROR: {
      std::string msg =
          fmt::format("vCPU {}: KVM internal error, suberror {} ({})", ctx.vcpu_id,
                      run.internal.suberror, internal_suberror_name(run.internal.suberror));
      uint32_t n = std::min<uint32_t>(run.internal.ndata, std::size(run.internal.data));
      if (n) msg += ", data:";
      for (uint32_t i = 0; i < n; ++i) msg += fmt::format(" {:#x}", run.internal.data[i]);
      return ExitOutcome::stop(kExitVmmError, with_dump(ctx, std::move(msg)));
    }
    case KVM_EXIT_UNKNOWN:
      return ExitOutcome::stop(
          kExitVmmError,
          with_dump(
              ctx, fmt::format("vCPU {}: KVM_EXIT_UNKNOWN, hardware exit reason {:#x}", ctx.vcpu_id,
                               static_cast<uint64_t>(run.hw.hardware_exit_reason))));
    case KVM_EXIT_EXCEPTION:
      return ExitOutcome::stop(
          kExitVmmError,
          with_dump(ctx, fmt::format("vCPU {}: unhandled guest exception {} (error code {:#x})",
                                     ctx.vcpu_id, run.ex.exception, run.ex.error_code)));
    default:
      return ExitOutcome::stop(
          kExitVmmError,
          with_dump(ctx, fmt::format("vCPU {}: unexpected KVM exit reason {} ({})", ctx.vcpu_id,
                                     run.exit_reason, exit_reason_name(run.exit_reason))));
  }
}

}  // namespace tandem::kvm
