#include "user/signal_frame.h"

#include <cstring>

namespace tandem::user {

void save_sigcontext(const riscv::CpuState& cpu, GuestSigcontext& sc) {
  std::memset(&sc, 0, sizeof sc);
  sc.regs[0] = cpu.pc;
  for (int i = 1; i < 32; ++i) sc.regs[i] = cpu.x[i];
  for (int i = 0; i < 32; ++i) sc.f[i] = cpu.f[i];
  sc.fcsr = ((cpu.frm & 7) << 5) | (cpu.fflags & 0x1f);
}

void restore_sigcontext(const GuestSigcontext& sc, riscv::CpuState& cpu) {
  cpu.pc = sc.regs[0];
  for (int i = 1; i < 32; ++i) cpu.x[i] = sc.regs[i];
  for (int i = 0; i < 32; ++i) cpu.f[i] = sc.f[i];
  cpu.fflags = sc.fcsr & 0x1f;
  cpu.frm = (sc.fcsr >> 5) & 7;
}

}  // namespace tandem::user
