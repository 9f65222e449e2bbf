#include "machine/x86/boot/cpu_setup.h"

#include <vector>

#include "machine/x86/boot/boot_layout.h"
#include "machine/x86/boot/bytes.h"
#include "machine/x86/boot/loader_util.h"

namespace tandem::x86 {
namespace {

// Flat descriptors: base 0, limit 0xfffff with 4 KiB granularity, present, DPL 0, accessed.
constexpr uint64_t kCode64Descriptor = 0x00af9b000000ffffull;  // L=1, type 0xb
constexpr uint64_t kCode32Descriptor = 0x00cf9b000000ffffull;  // D=1, type 0xb
constexpr uint64_t kDataDescriptor = 0x00cf93000000ffffull;    // B=1, type 0x3

Segment flat_segment(uint16_t selector, uint8_t type, bool long_code) {
  Segment s;
  s.base = 0;
  s.limit = 0xffffffff;
  s.selector = selector;
  s.type = type;
  s.present = 1;
  s.dpl = 0;
  s.s = 1;
  s.l = long_code ? 1 : 0;
  s.db = long_code ? 0 : 1;
  s.g = 1;
  return s;
}

void write_gdt(const GuestRam& ram, uint64_t code_descriptor) {
  // Entries 0 and 1 are null; __BOOT_CS is entry 2, __BOOT_DS entry 3.
  ByteBuilder gdt;
  gdt.add64(0);
  gdt.add64(0);
  gdt.add64(code_descriptor);
  gdt.add64(kDataDescriptor);
  write_guest(ram, kGdtAddr, gdt.bytes());
}

EntryState flat_entry(uint64_t rip, bool long_mode) {
  EntryState st;
  st.mode = long_mode ? EntryMode::kLong64 : EntryMode::kProtected32;
  st.rip = rip;
  st.rflags = 0x2;  // IF clear
  st.cs = flat_segment(kBootCs, 0xb, long_mode);
  Segment data = flat_segment(kBootDs, 0x3, false);
  st.ds = st.es = st.fs = st.gs = st.ss = data;
  // The task register and LDT as the CPU has them after reset: a busy TSS and an empty LDT.
  st.tr = Segment{.base = 0,
                  .limit = 0xffff,
                  .selector = 0,
                  .type = 0xb,
                  .present = 1,
                  .dpl = 0,
                  .db = 0,
                  .s = 0,
                  .l = 0,
                  .g = 0};
  st.ldt = Segment{.base = 0,
                   .limit = 0xffff,
                   .selector = 0,
                   .type = 0x2,
                   .present = 1,
                   .dpl = 0,
                   .db = 0,
                   .s = 0,
                   .l = 0,
                   .g = 0};
  st.gdt = {kGdtAddr, 4 * 8 - 1};
  st.idt = {0, 0};
  return st;
}

}  // namespace

EntryState long_mode_entry(const GuestRam& ram, uint64_t rip) {
  write_gdt(ram, kCode64Descriptor);
  constexpr uint64_t kPresentWritable = 0x3;
  constexpr uint64_t kPageSize2M = 0x80;
  constexpr unsigned kPageDirs = kIdentityMappedBytes >> 30;

  ByteBuilder pml4(kPageSize);
  pml4.put64(0, kPdptAddr | kPresentWritable);
  write_guest(ram, kPml4Addr, pml4.bytes());
  ByteBuilder pdpt(kPageSize);
  for (unsigned i = 0; i < kPageDirs; ++i) {
    pdpt.put64(i * 8, (kPageDirAddr + i * kPageSize) | kPresentWritable);
  }
  write_guest(ram, kPdptAddr, pdpt.bytes());
  ByteBuilder dirs(kPageDirs * kPageSize);
  for (uint64_t i = 0; i < kPageDirs * 512; ++i) {
    dirs.put64(i * 8, (i << 21) | kPresentWritable | kPageSize2M);
  }
  write_guest(ram, kPageDirAddr, dirs.bytes());

  EntryState st = flat_entry(rip, true);
  st.cr0 = kCr0Pe | kCr0Et | kCr0Ne | kCr0Pg;
  st.cr3 = kPml4Addr;
  st.cr4 = kCr4Pae;
  st.efer = kEferLme | kEferLma;
  st.rsp = st.rbp = kStackTop;
  return st;
}

EntryState protected_mode_entry(const GuestRam& ram, uint64_t eip) {
  write_gdt(ram, kCode32Descriptor);
  EntryState st = flat_entry(eip, false);
  st.cr0 = kCr0Pe | kCr0Et;
  return st;
}

}  // namespace tandem::x86
