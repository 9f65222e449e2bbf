// The flattened device tree of Tandem's RISC-V virt machine, laid out as QEMU's `-M virt`
// describes itself (minus PCI, flash and fw_cfg, which Tandem does not have): memory, harts
// with their interrupt controllers, CLINT, PLIC, 16550A UART, virtio-mmio slots, goldfish RTC,
// the SiFive test finisher with syscon poweroff/reboot, and /chosen for the kernel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tandem::riscv {

struct VirtFdtConfig {
  uint64_t ram_base = 0x80000000;
  uint64_t ram_size = 512ull << 20;
  unsigned num_harts = 1;
  // The ISA string each hart advertises; riscv,isa-base and riscv,isa-extensions are derived
  // from it. Zicntr is listed because Linux reads `time` through rdtime.
  std::string isa = "rv64imafdc_zicntr_zicsr_zifencei_zba_zbb";
  std::string mmu_type = "riscv,sv48";  // Linux falls back to a smaller mode if satp refuses
  std::string bootargs;
  std::string stdout_path = "/soc/serial@10000000";
  // [start, end) of the initrd in guest-physical memory.
  std::optional<std::pair<uint64_t, uint64_t>> initrd;
  std::vector<uint8_t> rng_seed;  // /chosen/rng-seed when not empty
  // virtio-mmio slots 0..virtio_slots-1 (at most virt::kVirtioSlots), listed highest first.
  unsigned virtio_slots = 8;
  // When larger than the tree, the blob is padded to this size with free space inside it
  // (fdt_totalsize), so that firmware can add nodes in place (OpenSBI grows the tree it is given).
  size_t min_size = 0;
};

// Builds the blob. Throws Error on an impossible configuration (no harts, bad ISA string).
std::vector<uint8_t> build_virt_fdt(const VirtFdtConfig& config);

// "rv64imafdc_zicsr_zba" -> base "rv64i", extensions {"i","m","a","f","d","c","zicsr","zba"}.
// "g" expands to imafd_zicsr_zifencei. Throws Error if the string does not start with rv32/rv64
// followed by i, e or g.
struct IsaParts {
  std::string base;
  std::vector<std::string> extensions;
};
IsaParts parse_isa(const std::string& isa);

}  // namespace tandem::riscv
