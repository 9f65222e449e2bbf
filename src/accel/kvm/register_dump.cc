#include "accel/kvm/register_dump.h"

#include <fmt/format.h>

#include <iterator>

#include "accel/kvm/kvm_vcpu.h"
#include "base/error.h"

namespace tandem::kvm {

namespace {

void format_segment(fmt::memory_buffer& out, const char* name, const kvm_segment& s) {
  fmt::format_to(std::back_inserter(out),
                 "{:<3} sel={:04x} base={:016x} limit={:08x} type={:x} s={} dpl={} p={} db={} "
                 "l={} g={}{}\n",
                 name, s.selector, s.base, s.limit, s.type, s.s, s.dpl, s.present, s.db, s.l, s.g,
                 s.unusable ? " unusable" : "");
}

}  // namespace

std::string format_registers(const kvm_regs& r, const kvm_sregs& s) {
  fmt::memory_buffer out;
  auto it = std::back_inserter(out);
  fmt::format_to(it, "rax={:016x} rbx={:016x} rcx={:016x} rdx={:016x}\n", r.rax, r.rbx, r.rcx,
                 r.rdx);
  fmt::format_to(it, "rsi={:016x} rdi={:016x} rbp={:016x} rsp={:016x}\n", r.rsi, r.rdi, r.rbp,
                 r.rsp);
  fmt::format_to(it, "r8 ={:016x} r9 ={:016x} r10={:016x} r11={:016x}\n", r.r8, r.r9, r.r10, r.r11);
  fmt::format_to(it, "r12={:016x} r13={:016x} r14={:016x} r15={:016x}\n", r.r12, r.r13, r.r14,
                 r.r15);
  fmt::format_to(it, "rip={:016x} rflags={:08x}\n", r.rip, r.rflags);
  fmt::format_to(it, "cr0={:016x} cr2={:016x} cr3={:016x} cr4={:016x} cr8={:x}\n", s.cr0, s.cr2,
                 s.cr3, s.cr4, s.cr8);
  fmt::format_to(it, "efer={:016x} apic_base={:016x}\n", s.efer, s.apic_base);
  format_segment(out, "cs", s.cs);
  format_segment(out, "ss", s.ss);
  format_segment(out, "ds", s.ds);
  format_segment(out, "es", s.es);
  format_segment(out, "fs", s.fs);
  format_segment(out, "gs", s.gs);
  format_segment(out, "tr", s.tr);
  format_segment(out, "ldt", s.ldt);
  fmt::format_to(it, "gdt base={:016x} limit={:04x}\n", s.gdt.base, s.gdt.limit);
  fmt::format_to(it, "idt base={:016x} limit={:04x}\n", s.idt.base, s.idt.limit);
  return fmt::to_string(out);
}

std::string dump_registers(const KvmVcpu& vcpu) {
  try {
    return format_registers(vcpu.get_regs(), vcpu.get_sregs());
  } catch (const Error& e) {
    return fmt::format("(registers unavailable: {})\n", e.what());
  }
}

}  // namespace tandem::kvm
