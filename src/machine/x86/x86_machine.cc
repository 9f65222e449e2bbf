#include "machine/x86/x86_machine.h"

#include <unistd.h>

#include "accel/kvm/async_teardown.h"
#include "accel/kvm/memory_slots.h"
#include "accel/kvm/vcpu_setup.h"
#include "base/error.h"
#include "base/log.h"
#include "hw/misc/testdev.h"
#include "machine/x86/boot/firmware_tables.h"
#include "machine/x86/boot/loader.h"
#include "machine/x86/x86_legacy_devices.h"
#include "machine/x86/x86_virtio.h"

namespace tandem::x86 {

namespace {

// Everything but KVM's own vCPU limit is checked before /dev/kvm is opened, so that a bad
// option is reported as such even on a host without KVM.
const MachineConfig& validated(const MachineConfig& config) {
  validate_config(config, host_limits(kMaxCpus));
  return config;
}

uint64_t memory_within_kvm_limits(const MachineConfig& config, const kvm::KvmSystem& sys) {
  validate_config(config, host_limits(sys.max_vcpus()));
  return config.memory_bytes;
}

}  // namespace

X86Machine::X86Machine(const MachineConfig& config)
    : config_(validated(config)),
      layout_(ram_layout(memory_within_kvm_limits(config_, sys_))),
      vm_(sys_),
      runner_(pio_, mmio_, /*irqchip=*/true) {
  // Before guest RAM exists, so that the teardown process shares none of it.
  if (config_.async_teardown) teardown_ = kvm::start_async_teardown(vm_.fd());
  // KVM's private pages first (Intel needs them before the first vCPU), then the irqchip, which
  // must exist before vCPUs are created so that they get in-kernel LAPICs.
  add_ram_regions(ram_, layout_);
  vm_.map_ram(ram_);
  vm_.set_tss_addr(kvm::kTssAddr);
  vm_.set_identity_map_addr(kvm::kIdentityMapAddr);
  vm_.create_irqchip();
  vm_.create_pit2();

  IrqFactory irq = [this](unsigned gsi) -> std::shared_ptr<IrqLine> {
    return std::make_shared<kvm::KvmIrqLine>(vm_, gsi);
  };
  add_x86_legacy_devices(pio_, io_.loop(), runner_, irq, config_, layout_.below_4g,
                         layout_.above_4g);
  if (config_.testdev) add_testdev();
  virtio_ = std::make_unique<X86Virtio>(config_, ram_, vm_, io_.loop(), runner_, mmio_);

  FirmwareDevices firmware;
  firmware.virtio_mmio = virtio_mmio_acpi(static_cast<unsigned>(virtio_->size()));
  write_firmware_tables(ram_, config_.cpus, firmware);
  BootRequest req;
  req.kernel_path = config_.kernel;
  req.initrd_path = config_.initrd;
  req.cmdline = config_.append;
  req.cpus = config_.cpus;
  BootResult boot = load_kernel(ram_, req);
  TLOG_INFO("booting {} kernel {} on {} vCPU(s), {} MiB", boot.format, config_.kernel, config_.cpus,
            config_.memory_bytes >> 20);

  const auto supported = sys_.supported_cpuid();
  const auto msrs = sys_.msr_index_list();
  for (unsigned i = 0; i < config_.cpus; ++i) {
    auto vcpu = vm_.create_vcpu(i);
    kvm::VcpuSetup setup;
    setup.cpus = config_.cpus;
    setup.supported_cpuid = supported;
    setup.msr_index_list = msrs;
    setup.entry = i == 0 ? &boot.bsp : nullptr;  // APs wait for INIT/SIPI in the kernel
    setup.irqchip = true;
    kvm::setup_vcpu(*vcpu, setup);
    runner_.add_vcpu(*vcpu);
    vcpus_.push_back(std::move(vcpu));
  }
}

X86Machine::~X86Machine() {
  // No device callback may run while devices are destroyed: stop the I/O thread first, but
  // keep its loop alive for devices that unregister their fds on the way out.
  io_.stop();
  if (testdev_) testdev_->detach();
}

void X86Machine::add_testdev() {
  testdev_ = std::make_shared<TestDev>();
  pio_.add(testdev::kPioBase, testdev::kPioSize, testdev_->pio_window(), "tandem-testdev-pio");
  mmio_.add(testdev::kMmioBase, testdev::kMmioSize, testdev_, "tandem-testdev-mmio");
  // The ioeventfd wrapper owns a duplicate of the device's eventfd: same counter, and the
  // registration is undone when the machine goes away.
  int fd = ::dup(testdev_->doorbell_eventfd());
  if (fd < 0) fail_errno("dup");
  testdev_doorbell_ =
      std::make_unique<kvm::IoEventFd>(vm_, kvm::IoEventFd::Space::kMmio, testdev::kDoorbellGpa,
                                       testdev::kDoorbellLen, std::nullopt, UniqueFd(fd));
  testdev_->attach(io_.loop());
}

int X86Machine::run() {
  return runner_.run();
}

}  // namespace tandem::x86
