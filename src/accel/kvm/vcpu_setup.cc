#include "accel/kvm/vcpu_setup.h"

#include <cstring>

#include "accel/kvm/cpuid.h"
#include "accel/kvm/kvm_vcpu.h"
#include "accel/kvm/msrs.h"
#include "base/error.h"
#include "base/log.h"

namespace tandem::kvm {

namespace {

constexpr uint64_t kCr0Pe = 1ull << 0;
constexpr uint64_t kCr0Pg = 1ull << 31;
constexpr uint64_t kCr4Pae = 1ull << 5;
constexpr uint64_t kEferLme = 1ull << 8;
constexpr uint64_t kEferLma = 1ull << 10;

constexpr uint32_t kApicLvtLint0 = 0x350;
constexpr uint32_t kApicLvtLint1 = 0x360;
constexpr uint32_t kApicDeliveryModeMask = 0x700;
constexpr uint32_t kApicDeliveryExtInt = 0x700;
constexpr uint32_t kApicDeliveryNmi = 0x400;
constexpr uint32_t kApicLvtMasked = 1u << 16;

uint32_t lapic_reg(const kvm_lapic_state& lapic, uint32_t offset) {
  uint32_t v;
  std::memcpy(&v, lapic.regs + offset, sizeof(v));
  return v;
}

void set_lapic_reg(kvm_lapic_state& lapic, uint32_t offset, uint32_t value) {
  std::memcpy(lapic.regs + offset, &value, sizeof(value));
}

const char* mode_name(x86::EntryMode mode) {
  switch (mode) {
    case x86::EntryMode::kReal16:
      return "real mode";
    case x86::EntryMode::kProtected32:
      return "32-bit protected mode";
    case x86::EntryMode::kLong64:
      return "64-bit long mode";
  }
  return "?";
}

}  // namespace

kvm_regs entry_regs(const x86::EntryState& e) {
  kvm_regs regs{};
  regs.rax = e.rax;
  regs.rbx = e.rbx;
  regs.rcx = e.rcx;
  regs.rdx = e.rdx;
  regs.rsi = e.rsi;
  regs.rdi = e.rdi;
  regs.rbp = e.rbp;
  regs.rsp = e.rsp;
  regs.rip = e.rip;
  regs.rflags = e.rflags | 0x2;  // bit 1 is always set
  return regs;
}

kvm_segment to_kvm_segment(const x86::Segment& s) {
  kvm_segment k{};
  k.base = s.base;
  k.limit = s.limit;
  k.selector = s.selector;
  k.type = s.type;
  k.present = s.present;
  k.dpl = s.dpl;
  k.db = s.db;
  k.s = s.s;
  k.l = s.l;
  k.g = s.g;
  k.avl = 0;
  k.unusable = s.present ? 0 : 1;
  return k;
}

void apply_entry_sregs(const x86::EntryState& e, kvm_sregs& sregs) {
  const bool pe = e.cr0 & kCr0Pe;
  switch (e.mode) {
    case x86::EntryMode::kReal16:
      if (pe) fail("boot state: real mode with CR0.PE set");
      break;
    case x86::EntryMode::kProtected32:
      if (!pe || (e.efer & kEferLma)) fail("boot state: 32-bit entry needs CR0.PE and no EFER.LMA");
      break;
    case x86::EntryMode::kLong64:
      if (!pe || !(e.cr0 & kCr0Pg) || !(e.cr4 & kCr4Pae) || !(e.efer & kEferLme) ||
          !(e.efer & kEferLma) || !e.cs.l) {
        fail("boot state: 64-bit entry needs CR0.PE|PG, CR4.PAE, EFER.LME|LMA and a 64-bit CS");
      }
      break;
  }
  TLOG_DEBUG("vCPU entry in {} at rip {:#x}", mode_name(e.mode), e.rip);
  sregs.cr0 = e.cr0 | 0x10;  // ET is hard-wired to 1
  sregs.cr3 = e.cr3;
  sregs.cr4 = e.cr4;
  sregs.efer = e.efer;
  sregs.cs = to_kvm_segment(e.cs);
  sregs.ds = to_kvm_segment(e.ds);
  sregs.es = to_kvm_segment(e.es);
  sregs.fs = to_kvm_segment(e.fs);
  sregs.gs = to_kvm_segment(e.gs);
  sregs.ss = to_kvm_segment(e.ss);
  // VMX needs a usable TR of a busy-TSS type even in real mode; a loader that leaves TR at its
  // default (type 0) gets the processor's reset value (busy 32-bit TSS, limit 0xffff).
  if (e.tr.type == 0) {
    sregs.tr = kvm_segment{};
    sregs.tr.limit = 0xffff;
    sregs.tr.type = 0xb;
    sregs.tr.present = 1;
  } else {
    sregs.tr = to_kvm_segment(e.tr);
    sregs.tr.s = 0;
  }
  if (e.ldt.type == 0) {
    sregs.ldt = kvm_segment{};
    sregs.ldt.limit = 0xffff;
    sregs.ldt.type = 0x2;
    sregs.ldt.present = 1;
    sregs.ldt.unusable = 1;
  } else {
    sregs.ldt = to_kvm_segment(e.ldt);
    sregs.ldt.s = 0;
  }
  sregs.gdt.base = e.gdt.base;
  sregs.gdt.limit = e.gdt.limit;
  sregs.idt.base = e.idt.base;
  sregs.idt.limit = e.idt.limit;
}

kvm_fpu boot_fpu() {
  kvm_fpu fpu{};
  fpu.fcw = 0x37f;
  fpu.mxcsr = 0x1f80;
  return fpu;
}

void set_bsp_lint(kvm_lapic_state& lapic) {
  uint32_t lint0 = lapic_reg(lapic, kApicLvtLint0);
  lint0 = (lint0 & ~(kApicDeliveryModeMask | kApicLvtMasked)) | kApicDeliveryExtInt;
  set_lapic_reg(lapic, kApicLvtLint0, lint0);
  uint32_t lint1 = lapic_reg(lapic, kApicLvtLint1);
  lint1 = (lint1 & ~(kApicDeliveryModeMask | kApicLvtMasked)) | kApicDeliveryNmi;
  set_lapic_reg(lapic, kApicLvtLint1, lint1);
}

size_t set_msrs_skipping_refused(KvmVcpu& vcpu, std::vector<kvm_msr_entry> entries) {
  size_t done = 0;
  while (!entries.empty()) {
    size_t n = vcpu.set_msrs(entries);
    done += n;
    if (n >= entries.size()) break;
    TLOG_WARN("vCPU {}: KVM refused MSR {:#x} = {:#x}; left at its default", vcpu.id(),
              entries[n].index, entries[n].data);
    entries.erase(entries.begin(), entries.begin() + static_cast<std::ptrdiff_t>(n) + 1);
  }
  return done;
}

void setup_vcpu(KvmVcpu& vcpu, const VcpuSetup& setup) {
  vcpu.set_cpuid(vcpu_cpuid(setup.supported_cpuid, vcpu.id(), setup.cpus, vcpu.tsc_khz()));
  set_msrs_skipping_refused(vcpu, boot_msrs(setup.msr_index_list));
  vcpu.set_fpu(boot_fpu());
  if (setup.entry) {
    kvm_sregs sregs = vcpu.get_sregs();
    apply_entry_sregs(*setup.entry, sregs);
    vcpu.set_sregs(sregs);
    vcpu.set_regs(entry_regs(*setup.entry));
    if (setup.irqchip) {
      kvm_lapic_state lapic = vcpu.get_lapic();
      set_bsp_lint(lapic);
      vcpu.set_lapic(lapic);
    }
  }
}

}  // namespace tandem::kvm
