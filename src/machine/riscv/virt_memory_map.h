// The physical memory map and interrupt numbers of Tandem's RISC-V virt machine, the same as
// QEMU's `-M virt` so that firmware, kernels and device trees made for it work unchanged.
#pragma once

#include <cstdint>

namespace tandem::riscv::virt {

struct Window {
  uint64_t base;
  uint64_t size;
};

inline constexpr Window kTest = {0x100000, 0x1000};     // sifive,test0 finisher
inline constexpr Window kRtc = {0x101000, 0x1000};      // goldfish RTC
inline constexpr Window kClint = {0x2000000, 0x10000};  // CLINT (msip, mtimecmp, mtime)
inline constexpr Window kPlic = {0xc000000, 0x600000};
inline constexpr Window kUart0 = {0x10000000, 0x100};     // 16550A
inline constexpr Window kVirtio0 = {0x10001000, 0x1000};  // slot i at base + i * size
inline constexpr unsigned kVirtioSlots = 8;
inline constexpr uint64_t kDramBase = 0x80000000;

// PLIC sources.
inline constexpr unsigned kVirtioIrq0 = 1;  // slot i: 1 + i
inline constexpr unsigned kUart0Irq = 10;
inline constexpr unsigned kRtcIrq = 11;
inline constexpr unsigned kPlicNumSources = 96;  // riscv,ndev = 95

inline constexpr uint64_t kTimebaseHz = 10'000'000;
inline constexpr uint32_t kUartClockHz = 3686400;

constexpr uint64_t virtio_base(unsigned slot) {
  return kVirtio0.base + slot * kVirtio0.size;
}
constexpr unsigned virtio_irq(unsigned slot) {
  return kVirtioIrq0 + slot;
}

}  // namespace tandem::riscv::virt
