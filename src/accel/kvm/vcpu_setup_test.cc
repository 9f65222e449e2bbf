#include "accel/kvm/vcpu_setup.h"

#include <gtest/gtest.h>

#include <cstring>

#include "base/error.h"

namespace tandem::kvm {
namespace {

x86::EntryState long_mode_entry() {
  x86::EntryState e;
  e.mode = x86::EntryMode::kLong64;
  e.rip = 0x1000000;
  e.rsi = 0x7000;
  e.rsp = 0x8ff0;
  e.cr0 = 0x80000001;
  e.cr3 = 0x9000;
  e.cr4 = 0x20;
  e.efer = 0x500;
  e.cs = {.base = 0, .limit = 0xffffffff, .selector = 0x10, .type = 0xb, .l = 1};
  e.ds = e.es = e.ss = {.base = 0, .limit = 0xffffffff, .selector = 0x18, .type = 0x3, .db = 1};
  e.fs = e.gs = e.ds;
  e.gdt = {0x500, 0x1f};
  return e;
}

TEST(VcpuSetup, RegsFromEntry) {
  auto e = long_mode_entry();
  e.rflags = 0;
  kvm_regs r = entry_regs(e);
  EXPECT_EQ(r.rip, 0x1000000u);
  EXPECT_EQ(r.rsi, 0x7000u);
  EXPECT_EQ(r.rsp, 0x8ff0u);
  EXPECT_EQ(r.rflags, 2u);
}

TEST(VcpuSetup, LongModeSregs) {
  kvm_sregs s{};
  s.apic_base = 0xfee00900;
  apply_entry_sregs(long_mode_entry(), s);
  EXPECT_EQ(s.cr0, 0x80000011u);
  EXPECT_EQ(s.cr3, 0x9000u);
  EXPECT_EQ(s.cr4, 0x20u);
  EXPECT_EQ(s.efer, 0x500u);
  EXPECT_EQ(s.cs.selector, 0x10);
  EXPECT_EQ(s.cs.l, 1);
  EXPECT_EQ(s.cs.type, 0xb);
  EXPECT_EQ(s.cs.unusable, 0);
  EXPECT_EQ(s.ss.selector, 0x18);
  EXPECT_EQ(s.ss.db, 1);
  EXPECT_EQ(s.gdt.base, 0x500u);
  EXPECT_EQ(s.gdt.limit, 0x1f);
  // Default TR becomes a usable busy TSS; default LDT is unusable.
  EXPECT_EQ(s.tr.type, 0xb);
  EXPECT_EQ(s.tr.s, 0);
  EXPECT_EQ(s.tr.present, 1);
  EXPECT_EQ(s.tr.unusable, 0);
  EXPECT_EQ(s.ldt.unusable, 1);
  EXPECT_EQ(s.apic_base, 0xfee00900u);  // kept
}

TEST(VcpuSetup, InconsistentEntryIsRejected) {
  auto e = long_mode_entry();
  e.efer = 0x100;  // LME without LMA
  kvm_sregs s{};
  EXPECT_THROW(apply_entry_sregs(e, s), Error);

  x86::EntryState real;
  real.mode = x86::EntryMode::kReal16;
  real.cr0 = 1;
  EXPECT_THROW(apply_entry_sregs(real, s), Error);
}

TEST(VcpuSetup, RealAndProtectedModeEntries) {
  x86::EntryState real;
  real.mode = x86::EntryMode::kReal16;
  real.cs = {.base = 0x10000, .limit = 0xffff, .selector = 0x1000, .type = 0xb, .g = 0};
  kvm_sregs s{};
  apply_entry_sregs(real, s);
  EXPECT_EQ(s.cr0 & 1, 0u);
  EXPECT_EQ(s.cs.base, 0x10000u);
  EXPECT_EQ(s.cs.limit, 0xffffu);
  EXPECT_EQ(s.cs.g, 0);

  x86::EntryState prot;
  prot.mode = x86::EntryMode::kProtected32;
  prot.cr0 = 1;
  prot.cs = {.selector = 0x10, .type = 0xb, .db = 1};
  apply_entry_sregs(prot, s);
  EXPECT_EQ(s.cr0, 0x11u);
  EXPECT_EQ(s.cs.db, 1);
  EXPECT_EQ(s.efer, 0u);
}

TEST(VcpuSetup, BootFpu) {
  kvm_fpu f = boot_fpu();
  EXPECT_EQ(f.fcw, 0x37f);
  EXPECT_EQ(f.mxcsr, 0x1f80u);
}

TEST(VcpuSetup, BspLintsAreExtIntAndNmi) {
  kvm_lapic_state lapic{};
  uint32_t masked = 0x10000;
  std::memcpy(lapic.regs + 0x350, &masked, 4);
  std::memcpy(lapic.regs + 0x360, &masked, 4);
  set_bsp_lint(lapic);
  uint32_t lint0, lint1;
  std::memcpy(&lint0, lapic.regs + 0x350, 4);
  std::memcpy(&lint1, lapic.regs + 0x360, 4);
  EXPECT_EQ(lint0, 0x700u);
  EXPECT_EQ(lint1, 0x400u);
}

}  // namespace
}  // namespace tandem::kvm
