// The CPU state a boot loader hands to the bootstrap processor, independent of the accelerator.
// Loaders (src/machine/x86/boot) fill it; the KVM machine turns it into KVM_SET_REGS/SREGS.
#pragma once

#include <cstdint>

namespace tandem::x86 {

struct Segment {
  uint64_t base = 0;
  uint32_t limit = 0xffffffff;
  uint16_t selector = 0;
  uint8_t type = 0;    // x86 descriptor type field (e.g. 0xb code exec/read accessed, 0x3 data)
  uint8_t present = 1;
  uint8_t dpl = 0;
  uint8_t db = 0;      // default operand size (32-bit segments)
  uint8_t s = 1;       // code/data (not system)
  uint8_t l = 0;       // 64-bit code
  uint8_t g = 1;       // 4 KiB granularity
};

struct DescriptorTable {
  uint64_t base = 0;
  uint16_t limit = 0;
};

enum class EntryMode { kReal16, kProtected32, kLong64 };

struct EntryState {
  EntryMode mode = EntryMode::kLong64;
  uint64_t rip = 0;
  uint64_t rsp = 0;
  uint64_t rax = 0, rbx = 0, rcx = 0, rdx = 0, rsi = 0, rdi = 0, rbp = 0;
  uint64_t rflags = 0x2;
  uint64_t cr0 = 0, cr3 = 0, cr4 = 0, efer = 0;
  Segment cs, ds, es, fs, gs, ss;
  Segment tr, ldt;
  DescriptorTable gdt, idt;
};

}  // namespace tandem::x86
