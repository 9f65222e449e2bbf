// Real KVM VMs running a few bytes of 64-bit guest code (assembled with xbyak): PIO, string PIO,
// MMIO and ioeventfd dispatch, CPUID as set up for the vCPU, the triple-fault path, and kicking
// vCPUs that are halted or spinning in the guest.
#include <gtest/gtest.h>
#include <unistd.h>
#include <xbyak/xbyak.h>

#include <chrono>
#include <mutex>
#include <thread>

#include "accel/kvm/exit_status.h"
#include "accel/kvm/kvm_irq.h"
#include "accel/kvm/kvm_system.h"
#include "accel/kvm/kvm_vcpu.h"
#include "accel/kvm/kvm_vm.h"
#include "accel/kvm/memory_slots.h"
#include "accel/kvm/vcpu_setup.h"
#include "accel/kvm/vm_runner.h"
#include "base/error.h"

namespace tandem::kvm {
namespace {

constexpr uint64_t kRamSize = 2 << 20;
constexpr uint64_t kCodeAddr = 0x10000;
constexpr uint64_t kMmioBase = 0x40000000;  // 1 GiB: no RAM there
constexpr uint16_t kPortBase = 0x3f0;
constexpr uint16_t kPortFinish = 0x3ff;

// Ports kPortBase..+15 and an MMIO page. Reads return 0x5a + offset; a write to the finish port
// ends the VM with the written value.
class TestDevice : public IoDevice {
 public:
  struct Access {
    bool write;
    uint64_t offset;
    uint64_t value;
    size_t size;
  };
  explicit TestDevice(VmControl* control = nullptr) : control_(control) {}
  void set_control(VmControl* c) { control_ = c; }
  void io_read(uint64_t offset, std::span<uint8_t> data) override {
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(0x5a + offset + i);
    record(false, offset, data);
  }
  void io_write(uint64_t offset, std::span<const uint8_t> data) override {
    record(true, offset, data);
  }
  std::vector<Access> accesses() {
    std::lock_guard lock(mutex_);
    return accesses_;
  }
  bool is_mmio = false;

 private:
  void record(bool write, uint64_t offset, std::span<const uint8_t> data) {
    uint64_t v = 0;
    std::memcpy(&v, data.data(), std::min<size_t>(data.size(), 8));
    {
      std::lock_guard lock(mutex_);
      accesses_.push_back({write, offset, v, data.size()});
    }
    if (write && !is_mmio && offset == kPortFinish - kPortBase && control_) {
      control_->request_exit(static_cast<int>(v));
    }
  }
  VmControl* control_;
  std::mutex mutex_;
  std::vector<Access> accesses_;
};

bool have_kvm() {
  return ::access("/dev/kvm", F_OK) == 0;
}

// A VM with 2 MiB of RAM, identity-mapped page tables for the first 2 GiB (2 MiB pages), a flat
// GDT, and the guest code at kCodeAddr.
class GuestVm {
 public:
  explicit GuestVm(bool irqchip) : vm(sys) {
    vm.set_tss_addr(kTssAddr);
    vm.set_identity_map_addr(kIdentityMapAddr);
    if (irqchip) vm.create_irqchip();
    ram.add_region(0, kRamSize);
    vm.map_ram(ram);
    // PML4 0x1000 -> PDPT 0x2000 -> PDs 0x3000 (0-1 GiB) and 0x4000 (1-2 GiB).
    ram.store<uint64_t>(0x1000, 0x2000 | 3);
    ram.store<uint64_t>(0x2000, 0x3000 | 3);
    ram.store<uint64_t>(0x2008, 0x4000 | 3);
    for (uint64_t i = 0; i < 1024; ++i) {
      ram.store<uint64_t>(0x3000 + i * 8, (i << 21) | 0x83);  // present, writable, 2 MiB
    }
    // GDT: null, 64-bit code (0x8), data (0x10).
    ram.store<uint64_t>(0x500, 0);
    ram.store<uint64_t>(0x508, 0x00af9b000000ffff);
    ram.store<uint64_t>(0x510, 0x00cf93000000ffff);
    entry.mode = x86::EntryMode::kLong64;
    entry.rip = kCodeAddr;
    entry.rsp = 0x9000;
    entry.cr0 = 0x80000011;
    entry.cr3 = 0x1000;
    entry.cr4 = 0x20;
    entry.efer = 0x500;
    entry.cs = {.base = 0, .limit = 0xffffffff, .selector = 0x8, .type = 0xb, .l = 1};
    entry.ds = {.base = 0, .limit = 0xffffffff, .selector = 0x10, .type = 0x3, .db = 1};
    entry.es = entry.fs = entry.gs = entry.ss = entry.ds;
    entry.gdt = {0x500, 0x17};
    entry.idt = {0, 0};
    pio.add(kPortBase, 16, device, "test");
    mmio_device->is_mmio = true;
    mmio.add(kMmioBase, 0x1000, mmio_device, "test-mmio");
  }

  void load(const Xbyak::CodeGenerator& code) {
    ram.write_or_throw(kCodeAddr, {code.getCode(), code.getSize()});
  }

  KvmVcpu& add_vcpu(VmRunner& runner, unsigned cpus, bool bsp) {
    vcpus.push_back(vm.create_vcpu(static_cast<unsigned>(vcpus.size())));
    VcpuSetup setup;
    setup.cpus = cpus;
    setup.supported_cpuid = supported;
    setup.msr_index_list = msrs;
    setup.entry = bsp ? &entry : nullptr;
    setup.irqchip = vm.has_irqchip();
    setup_vcpu(*vcpus.back(), setup);
    runner.add_vcpu(*vcpus.back());
    return *vcpus.back();
  }

  KvmSystem sys;
  KvmVm vm;
  GuestRam ram;
  x86::EntryState entry;
  IoBus pio{"pio"};
  IoBus mmio{"mmio"};
  std::shared_ptr<TestDevice> device = std::make_shared<TestDevice>();
  std::shared_ptr<TestDevice> mmio_device = std::make_shared<TestDevice>();
  std::vector<kvm_cpuid_entry2> supported = sys.supported_cpuid();
  std::vector<uint32_t> msrs = sys.msr_index_list();
  std::vector<std::unique_ptr<KvmVcpu>> vcpus;
};

#define REQUIRE_KVM() \
  if (!have_kvm()) GTEST_SKIP() << "/dev/kvm does not exist"

TEST(KvmVm, PioMmioAndCpuidDispatch) {
  REQUIRE_KVM();
  GuestVm g(/*irqchip=*/true);
  struct Code : Xbyak::CodeGenerator {
    Code() {
      // 1. OUT byte, then IN byte echoed back with OUT.
      mov(dx, kPortBase);
      mov(al, 0x42);
      out_(dx, al);
      mov(dx, kPortBase + 2);
      in_(al, dx);
      mov(dx, kPortBase + 3);
      out_(dx, al);
      // 2. REP OUTSW of 3 words from a table.
      lea(rsi, ptr[rip + table]);
      mov(ecx, 3);
      mov(dx, kPortBase + 4);
      rep();
      outsw();
      // 3. MMIO: 32-bit write, 64-bit read echoed as a 64-bit write.
      mov(rbx, kMmioBase);
      mov(dword[rbx + 0x10], 0xdeadbeef);
      mov(rax, qword[rbx + 0x20]);
      mov(qword[rbx + 0x30], rax);
      // 4. CPUID: initial APIC id (leaf 1 EBX[31:24]) and the KVM signature.
      mov(eax, 1);
      cpuid();
      mov(eax, ebx);
      shr(eax, 24);
      mov(dx, kPortBase + 5);
      out_(dx, eax);
      mov(eax, 0x40000000);
      cpuid();
      mov(eax, ebx);
      mov(dx, kPortBase + 6);
      out_(dx, eax);
      // 5. Finish with status 42.
      mov(al, 42);
      mov(dx, kPortFinish);
      out_(dx, al);
      L("spin");
      jmp("spin");
      L(table);
      dw(0x1111);
      dw(0x2222);
      dw(0x3333);
    }
    Xbyak::Label table;
  } code;
  code.ready();
  g.load(code);
  VmRunner runner(g.pio, g.mmio, g.vm.has_irqchip());
  g.device->set_control(&runner);
  g.add_vcpu(runner, 1, true);
  EXPECT_EQ(runner.run(), 42);

  auto acc = g.device->accesses();
  ASSERT_EQ(acc.size(), 9u);
  EXPECT_TRUE(acc[0].write);
  EXPECT_EQ(acc[0].offset, 0u);
  EXPECT_EQ(acc[0].value, 0x42u);
  EXPECT_FALSE(acc[1].write);
  EXPECT_EQ(acc[1].offset, 2u);
  EXPECT_EQ(acc[2].value, 0x5cu);  // what the IN returned
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(acc[3 + i].offset, 4u);
    EXPECT_EQ(acc[3 + i].size, 2u);
    EXPECT_EQ(acc[3 + i].value, 0x1111u * (i + 1));
  }
  EXPECT_EQ(acc[6].value, 0u);  // APIC id of vCPU 0
  EXPECT_EQ(acc[6].size, 4u);
  EXPECT_EQ(acc[7].value, 0x4b4d564bu);  // "KVMK"
  EXPECT_EQ(acc[8].offset, kPortFinish - kPortBase);

  auto macc = g.mmio_device->accesses();
  ASSERT_EQ(macc.size(), 3u);
  EXPECT_TRUE(macc[0].write);
  EXPECT_EQ(macc[0].offset, 0x10u);
  EXPECT_EQ(macc[0].size, 4u);
  EXPECT_EQ(macc[0].value, 0xdeadbeefu);
  EXPECT_FALSE(macc[1].write);
  EXPECT_EQ(macc[1].size, 8u);
  EXPECT_EQ(macc[2].value, 0x81807f7e7d7c7b7aULL);  // what the 8-byte read at +0x20 returned
}

TEST(KvmVm, IoEventFdsSignalWithoutReachingTheBus) {
  REQUIRE_KVM();
  GuestVm g(/*irqchip=*/true);
  IoEventFd doorbell(g.vm, IoEventFd::Space::kMmio, kMmioBase + 0x100, 4, std::nullopt);
  IoEventFd port_match(g.vm, IoEventFd::Space::kPio, kPortBase + 8, 1, uint64_t{7});
  struct Code : Xbyak::CodeGenerator {
    Code() {
      mov(rbx, kMmioBase);
      mov(dword[rbx + 0x100], 1);
      mov(dword[rbx + 0x100], 2);
      mov(dx, kPortBase + 8);
      mov(al, 7);
      out_(dx, al);  // matches: eventfd
      mov(al, 8);
      out_(dx, al);  // no match: the bus
      mov(al, 0);
      mov(dx, kPortFinish);
      out_(dx, al);
      L("spin");
      jmp("spin");
    }
  } code;
  g.load(code);
  VmRunner runner(g.pio, g.mmio, true);
  g.device->set_control(&runner);
  g.add_vcpu(runner, 1, true);
  EXPECT_EQ(runner.run(), 0);
  EXPECT_EQ(doorbell.consume(), 2u);
  EXPECT_EQ(port_match.consume(), 1u);
  EXPECT_TRUE(g.mmio_device->accesses().empty());
  auto acc = g.device->accesses();
  ASSERT_EQ(acc.size(), 2u);
  EXPECT_EQ(acc[0].offset, 8u);
  EXPECT_EQ(acc[0].value, 8u);
}

TEST(KvmVm, IrqLineAndIrqFdWorkWithIrqchip) {
  REQUIRE_KVM();
  GuestVm g(/*irqchip=*/true);
  KvmIrqLine line(g.vm, 4);
  line.set_level(true);
  line.set_level(false);
  line.pulse();
  IrqFd irqfd(g.vm, 5);
  irqfd.trigger();
  // Without an irqchip KVM has nothing to drive: the wrapper reports it.
  GuestVm bare(/*irqchip=*/false);
  EXPECT_THROW(bare.vm.set_irq_line(4, true), Error);
  EXPECT_THROW(IrqFd(bare.vm, 5), Error);
}

TEST(KvmVm, TripleFaultEndsWithStatus2AndRegisterDump) {
  REQUIRE_KVM();
  GuestVm g(/*irqchip=*/false);
  struct Code : Xbyak::CodeGenerator {
    Code() {
      mov(rax, 0x1234567890abcdefULL);
      ud2();  // #UD with an empty IDT: #GP, #DF, triple fault
    }
  } code;
  g.load(code);
  VmRunner runner(g.pio, g.mmio, false);
  g.add_vcpu(runner, 1, true);
  testing::internal::CaptureStderr();
  int status = runner.run();
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(status, kExitTripleFault);
  EXPECT_NE(err.find("triple fault"), std::string::npos) << err;
  EXPECT_NE(err.find("rax=1234567890abcdef"), std::string::npos) << err;
  EXPECT_NE(err.find("efer="), std::string::npos) << err;
}

TEST(KvmVm, KickStopsHaltedAndSpinningVcpus) {
  REQUIRE_KVM();
  GuestVm g(/*irqchip=*/true);
  struct Code : Xbyak::CodeGenerator {
    Code() {
      L("again");
      cli();
      hlt();  // sleeps in the kernel: only a kick gets it out
      jmp("again");
    }
  } code;
  g.load(code);
  VmRunner runner(g.pio, g.mmio, true);
  g.add_vcpu(runner, 2, true);
  g.add_vcpu(runner, 2, false);  // AP waiting for INIT/SIPI in the kernel
  auto start = std::chrono::steady_clock::now();
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    runner.request_exit(9);
  });
  int status = runner.run();
  stopper.join();
  EXPECT_EQ(status, 9);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(KvmVm, KickStopsABusyGuest) {
  REQUIRE_KVM();
  GuestVm g(/*irqchip=*/false);
  struct Code : Xbyak::CodeGenerator {
    Code() {
      L("spin");
      inc(rax);
      jmp("spin");
    }
  } code;
  g.load(code);
  VmRunner runner(g.pio, g.mmio, false);
  g.add_vcpu(runner, 1, true);
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    runner.request_exit(3);
  });
  EXPECT_EQ(runner.run(), 3);
  stopper.join();
}

// A device that throws (a VMM bug) ends the VM with an error status and a message instead of
// taking the process down with std::terminate.
class ThrowingDevice : public IoDevice {
 public:
  void io_read(uint64_t, std::span<uint8_t>) override { fail("device broke on read"); }
  void io_write(uint64_t, std::span<const uint8_t>) override { fail("device broke on write"); }
};

TEST(KvmVm, ErrorOnVcpuThreadEndsTheVmCleanly) {
  REQUIRE_KVM();
  GuestVm g(/*irqchip=*/true);
  g.pio.add(0x600, 1, std::make_shared<ThrowingDevice>(), "broken");
  struct Code : Xbyak::CodeGenerator {
    Code() {
      mov(dx, 0x600);
      out_(dx, al);
      L("spin");
      jmp("spin");
    }
  } code;
  g.load(code);
  VmRunner runner(g.pio, g.mmio, true);
  g.add_vcpu(runner, 2, true);
  g.add_vcpu(runner, 2, false);
  testing::internal::CaptureStderr();
  int status = runner.run();
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(status, kExitVmmError);
  EXPECT_NE(err.find("vCPU 0: device broke on write"), std::string::npos) << err;
}

TEST(KvmVm, ExitRequestedBeforeRunEndsImmediately) {
  REQUIRE_KVM();
  GuestVm g(/*irqchip=*/true);
  struct Code : Xbyak::CodeGenerator {
    Code() {
      L("spin");
      jmp("spin");
    }
  } code;
  g.load(code);
  VmRunner runner(g.pio, g.mmio, true);
  g.add_vcpu(runner, 1, true);
  runner.request_exit(6);
  EXPECT_EQ(runner.run(), 6);
}

}  // namespace
}  // namespace tandem::kvm
