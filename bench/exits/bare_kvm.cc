#include "bare_kvm.h"

#include <elf.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <vector>

#include "base/error.h"
#include "base/event_loop.h"
#include "base/mapping.h"
#include "base/unique_fd.h"
#include "hw/misc/testdev.h"

namespace tandem::bench {

namespace {

constexpr uint64_t kStartInfo = 0x6000, kMemmap = 0x6100, kCmdline = 0x7000;

// <linux/kvm.h> declares kvm_cpuid2's entries as a zero-length array; g++ gives the struct a size
// of 12 instead of 8, so KVM_GET_SUPPORTED_CPUID / KVM_SET_CPUID2 would encode the wrong size and
// the kernel answers EINVAL. Use the numbers a C compiler computes.
constexpr unsigned long kGetSupportedCpuid = _IOC(_IOC_READ | _IOC_WRITE, KVMIO, 0x05, 8);
constexpr unsigned long kSetCpuid2 = _IOC(_IOC_WRITE, KVMIO, 0x90, 8);

int xioctl(int fd, unsigned long req, const void* arg, const char* what) {
  int r = ::ioctl(fd, req, arg);
  if (r < 0) fail_errno("{}", what);
  return r;
}

// Loads PT_LOAD segments at their physical addresses; returns the PVH entry.
uint64_t load_pvh(const std::string& path, uint8_t* ram, uint64_t size) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read {}", path);
  std::vector<uint8_t> f{std::istreambuf_iterator<char>(in), {}};
  Elf64_Ehdr eh;
  if (f.size() < sizeof eh) fail("{}: not an ELF", path);
  std::memcpy(&eh, f.data(), sizeof eh);
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) fail("{}: not an ELF", path);
  uint64_t entry = 0;
  for (int i = 0; i < eh.e_phnum; i++) {
    Elf64_Phdr ph;
    uint64_t off = eh.e_phoff + static_cast<uint64_t>(i) * eh.e_phentsize;
    if (off + sizeof ph > f.size()) fail("{}: bad program header", path);
    std::memcpy(&ph, f.data() + off, sizeof ph);
    if (ph.p_offset + ph.p_filesz > f.size()) fail("{}: segment beyond the file", path);
    if (ph.p_type == PT_LOAD) {
      if (ph.p_paddr + ph.p_memsz > size || ph.p_filesz > ph.p_memsz)
        fail("{}: segment outside RAM", path);
      std::memcpy(ram + ph.p_paddr, f.data() + ph.p_offset, ph.p_filesz);
      std::memset(ram + ph.p_paddr + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
    } else if (ph.p_type == PT_NOTE) {
      for (uint64_t p = ph.p_offset; p + 12 <= ph.p_offset + ph.p_filesz;) {
        uint32_t namesz, descsz, type;
        std::memcpy(&namesz, &f[p], 4);
        std::memcpy(&descsz, &f[p + 4], 4);
        std::memcpy(&type, &f[p + 8], 4);
        uint64_t desc = p + 12 + ((namesz + 3) & ~3u);
        if (type == 18 && namesz == 4 && descsz >= 4 && desc + 4 <= f.size() &&
            std::memcmp(&f[p + 12], "Xen", 4) == 0) {
          uint32_t e;
          std::memcpy(&e, &f[desc], 4);
          entry = e;
        }
        p = desc + ((descsz + 3) & ~3u);
      }
    }
  }
  if (!entry) fail("{}: no PVH entry note", path);
  return entry;
}

kvm_segment flat(uint16_t sel, uint8_t type) {
  kvm_segment s{};
  s.base = 0;
  s.limit = 0xffffffff;
  s.selector = sel;
  s.type = type;
  s.present = 1;
  s.db = 1;
  s.s = 1;
  s.g = 1;
  return s;
}

}  // namespace

BareRunResult run_bare_kvm(const std::string& elf_path, const std::string& cmdline,
                           uint64_t mem_bytes) {
  BareRunResult result;
  UniqueFd kvm = open_or_throw("/dev/kvm", O_RDWR | O_CLOEXEC);
  UniqueFd vm(xioctl(kvm.get(), KVM_CREATE_VM, nullptr, "KVM_CREATE_VM"));
  xioctl(vm.get(), KVM_SET_TSS_ADDR, reinterpret_cast<void*>(0xfffbd000ul), "KVM_SET_TSS_ADDR");
  xioctl(vm.get(), KVM_CREATE_IRQCHIP, nullptr, "KVM_CREATE_IRQCHIP");  // as Tandem has

  Mapping ram = Mapping::anonymous(mem_bytes, PROT_READ | PROT_WRITE, MAP_NORESERVE);
  kvm_userspace_memory_region region{};
  region.slot = 0;
  region.guest_phys_addr = 0;
  region.memory_size = mem_bytes;
  region.userspace_addr = reinterpret_cast<uint64_t>(ram.data());
  xioctl(vm.get(), KVM_SET_USER_MEMORY_REGION, &region, "KVM_SET_USER_MEMORY_REGION");

  uint64_t entry = load_pvh(elf_path, ram.data(), mem_bytes);
  // hvm_start_info v1 with a two-entry memory map and the command line.
  uint8_t* si = ram.data() + kStartInfo;
  auto put32 = [](uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); };
  auto put64 = [](uint8_t* p, uint64_t v) { std::memcpy(p, &v, 8); };
  put32(si, 0x336ec578);
  put32(si + 4, 1);
  put64(si + 24, kCmdline);
  put64(si + 40, kMemmap);
  put32(si + 48, 2);
  uint8_t* mm = ram.data() + kMemmap;
  put64(mm, 0);
  put64(mm + 8, 0x9fc00);
  put32(mm + 16, 1);
  put64(mm + 24, 0x100000);
  put64(mm + 32, mem_bytes - 0x100000);
  put32(mm + 40, 1);
  if (cmdline.size() >= 4096) fail("command line too long");
  std::memcpy(ram.data() + kCmdline, cmdline.c_str(), cmdline.size() + 1);

  auto dev = std::make_shared<TestDev>();
  IoThread io;
  dev->attach(io.loop());
  kvm_ioeventfd ioev{};
  ioev.addr = testdev::kDoorbellGpa;
  ioev.len = testdev::kDoorbellLen;
  ioev.fd = dev->doorbell_eventfd();
  xioctl(vm.get(), KVM_IOEVENTFD, &ioev, "KVM_IOEVENTFD");
  auto pio = dev->pio_window();

  UniqueFd vcpu(xioctl(vm.get(), KVM_CREATE_VCPU, nullptr, "KVM_CREATE_VCPU"));
  // CPUID: what KVM supports (long mode needs it).
  std::vector<uint8_t> cpuid_buf(sizeof(kvm_cpuid2) + 256 * sizeof(kvm_cpuid_entry2));
  auto* cpuid = reinterpret_cast<kvm_cpuid2*>(cpuid_buf.data());
  cpuid->nent = 256;
  xioctl(kvm.get(), kGetSupportedCpuid, cpuid, "KVM_GET_SUPPORTED_CPUID");
  xioctl(vcpu.get(), kSetCpuid2, cpuid, "KVM_SET_CPUID2");

  kvm_sregs sregs;
  xioctl(vcpu.get(), KVM_GET_SREGS, &sregs, "KVM_GET_SREGS");
  sregs.cs = flat(0x10, 0xb);
  sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = flat(0x18, 0x3);
  sregs.cr0 = 0x11;  // PE | ET
  sregs.cr4 = 0;
  sregs.efer = 0;
  xioctl(vcpu.get(), KVM_SET_SREGS, &sregs, "KVM_SET_SREGS");
  kvm_regs regs{};
  regs.rip = entry;
  regs.rbx = kStartInfo;
  regs.rflags = 2;
  xioctl(vcpu.get(), KVM_SET_REGS, &regs, "KVM_SET_REGS");

  int run_size = xioctl(kvm.get(), KVM_GET_VCPU_MMAP_SIZE, nullptr, "KVM_GET_VCPU_MMAP_SIZE");
  Mapping run_map =
      Mapping::file(vcpu.get(), static_cast<size_t>(run_size), PROT_READ | PROT_WRITE, MAP_SHARED);
  auto* run = reinterpret_cast<kvm_run*>(run_map.data());

  for (;;) {
    if (::ioctl(vcpu.get(), KVM_RUN, 0) < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      fail_errno("KVM_RUN");
    }
    switch (run->exit_reason) {
      case KVM_EXIT_IO: {
        uint8_t* data = reinterpret_cast<uint8_t*>(run) + run->io.data_offset;
        uint16_t port = run->io.port;
        size_t size = run->io.size;
        for (uint32_t i = 0; i < run->io.count; i++, data += size) {
          std::span<uint8_t> d(data, size);
          bool out = run->io.direction == KVM_EXIT_IO_OUT;
          if (port >= testdev::kPioBase && port < testdev::kPioBase + testdev::kPioSize) {
            if (out)
              pio->io_write(port - testdev::kPioBase, d);
            else
              pio->io_read(port - testdev::kPioBase, d);
          } else if (port == 0x501 && out) {
            uint32_t v = 0;
            std::memcpy(&v, data, std::min<size_t>(size, 2));  // iosize=2, as QEMU's
            result.exit_status = static_cast<int>(((v << 1) | 1) & 0xff);
            return result;
          } else if (port == 0x3f8 && out) {
            result.console.push_back(static_cast<char>(data[0]));
          } else if (port == 0x3fd && !out) {
            data[0] = 0x60;  // transmitter empty
          } else if (!out) {
            std::memset(data, 0xff, size);
          }
        }
        break;
      }
      case KVM_EXIT_MMIO: {
        uint64_t a = run->mmio.phys_addr;
        std::span<uint8_t> d(run->mmio.data, run->mmio.len);
        if (a >= testdev::kMmioBase && a - testdev::kMmioBase < testdev::kMmioSize) {
          if (run->mmio.is_write)
            dev->io_write(a - testdev::kMmioBase, d);
          else
            dev->io_read(a - testdev::kMmioBase, d);
        } else if (!run->mmio.is_write) {
          std::memset(run->mmio.data, 0xff, run->mmio.len);
        }
        break;
      }
      case KVM_EXIT_HLT:
        result.error = "guest halted";
        return result;
      case KVM_EXIT_SHUTDOWN:
        result.error = "guest shut down (triple fault)";
        return result;
      default:
        result.error = "unexpected exit reason " + std::to_string(run->exit_reason);
        return result;
    }
  }
}

}  // namespace tandem::bench
