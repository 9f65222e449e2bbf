// Guest state kept in fixed host registers for the whole generated-code region.
//
// The retired-instruction counter and the hottest guest registers live in host registers from
// the entry trampoline to the epilogue, across chained and jump-cache transitions between TBs:
// a TB reads and writes them in place instead of loading them from CpuState at entry and
// storing them at exit. CpuState's copies are stale while generated code runs; the epilogue
// (which every exit to the dispatcher goes through, fault stubs included) writes them back, and
// helper calls see them through explicit spills (see backend_x86.cc).
//
// Which guest registers are pinned is a PinnedMap: the engine starts with a default one and,
// after sampling which TBs run most, switches to the registers those TBs use most (this needs
// all code to be retranslated: the trampoline, the epilogue and every TB agree on one map).
// The map is shared by the trampoline/epilogue (code_buffer.cc), the back end, and the globals
// pass (opt_globals.cc), which leaves pinned offsets uncached.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>

#include "target/riscv/cpu_state.h"

namespace tandem::tcg {

// Host registers (Xbyak::Operand::Code) reserved for pinned state. rbx, rbp, r12, r13 are
// callee-saved (they survive helper calls); r9-r11 are caller-saved (spilled around calls).
// The other allocatable registers (rsi, rdi, r8) hold temporaries.
inline constexpr int kInstretHostReg = 3;  // rbx
inline constexpr int kPinnedGuestHostRegs[] = {5, 12, 13, 11, 10, 9};
inline constexpr unsigned kMaxPinnedGuestRegs = std::size(kPinnedGuestHostRegs);

struct PinnedGlobal {
  int32_t offset;  // into CpuState (a 64-bit field)
  int host_reg;
};

class PinnedMap {
 public:
  // sp and a0-a4 (the registers compiled RISC-V code uses most often).
  PinnedMap() : PinnedMap(kDefaultRegs, std::size(kDefaultRegs)) {}
  // The first kMaxPinnedGuestRegs of `regs` (x1..x31) get kPinnedGuestHostRegs in order.
  PinnedMap(const unsigned* regs, size_t n) {
    for (int8_t& h : host_of_x_) h = -1;
    for (size_t i = 0; i < n && i < kMaxPinnedGuestRegs; ++i) {
      if (regs[i] == 0 || regs[i] >= 32) continue;
      host_of_x_[regs[i]] = static_cast<int8_t>(kPinnedGuestHostRegs[i]);
    }
  }

  // Host register of a pinned CpuState offset, or -1.
  int reg_of(int32_t offset) const {
    if (offset == kInstretOffset) return kInstretHostReg;
    const int32_t rel = offset - kXOffset;
    if (rel < 0 || rel >= 8 * 32 || rel % 8 != 0) return -1;
    return host_of_x_[rel / 8];
  }
  int host_of_x(unsigned r) const { return host_of_x_[r]; }

  // Every pinned field with its register (for the trampoline, the epilogue and spills).
  template <typename F>
  void for_each(F&& f) const {
    f(PinnedGlobal{kInstretOffset, kInstretHostReg});
    for (unsigned r = 1; r < 32; ++r)
      if (host_of_x_[r] >= 0)
        f(PinnedGlobal{kXOffset + 8 * static_cast<int32_t>(r), host_of_x_[r]});
  }
  static bool is_pinned_host_reg(int r) {
    if (r == kInstretHostReg) return true;
    for (int h : kPinnedGuestHostRegs)
      if (h == r) return true;
    return false;
  }

  static const PinnedMap& default_map() {
    static const PinnedMap m;
    return m;
  }

 private:
  static constexpr int32_t kXOffset = static_cast<int32_t>(offsetof(riscv::CpuState, x));
  static constexpr int32_t kInstretOffset =
      static_cast<int32_t>(offsetof(riscv::CpuState, instret));
  static constexpr unsigned kDefaultRegs[] = {2, 10, 11, 12, 13, 14};
  int8_t host_of_x_[32];
};

}  // namespace tandem::tcg
