// The x86-64 back end: register allocation and instruction selection for one TB's IR.
//
// Host register conventions inside generated code:
//   r14 = CpuState* (env), r15 = guest_base: pinned for the whole run (unused by memory
//   operands when guest_base is 0, see BackendContext::direct_guest_memory);
//   rax, rcx, rdx, xmm14, xmm15: scratch, never allocated;
//   with pinning (CodeBuffer::pinned(), pinned.h): rbx = instret, rbp r9-r13 = the pinned
//   guest registers, for the whole run; rsi rdi r8 and xmm0-xmm13 allocated to temporaries
//   (without pinning: rbx rbp rsi rdi r8-r13).
// A load of a pinned guest register is the register itself while it is not written (no
// code), and a value stored to one right after it is computed is computed in place.
// Allocation is a single forward walk (values stay in registers until evicted; on pressure the
// register whose next use is furthest away is spilled). Temporaries live across labels go
// through their stack slots.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <vector>

#include "accel/tcg/code_buffer.h"
#include "accel/tcg/host_features.h"
#include "accel/tcg/ir.h"
#include "accel/tcg/softmmu.h"

namespace tandem::tcg {

// Thrown when the code does not fit (the caller flushes the buffer and retries) or the block
// needs more spill slots than the frame has (the caller retries with a shorter block).
struct BackendOverflow : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct FaultSite {
  uint32_t host_offset;  // offset of the instruction that may fault, from the TB start
  uint32_t stub_offset;  // where to resume to leave the TB with a precise guest fault
};

struct TbCodeInfo {
  uint32_t jmp_offset[2] = {~0u, ~0u};   // goto_tb slot n: offset of its `jmp rel32`
  uint32_t stub_offset[2] = {~0u, ~0u};  // its unchained target
  std::vector<FaultSite> fault_sites;    // sorted by host_offset
};

struct BackendContext {
  const HostFeatures* features;
  const CodeBuffer* buffer;
  uint64_t tb_pc;       // guest pc of the TB (for the exit-request check)
  uintptr_t tb_cookie;  // passed to the dispatcher with ExitCode::kChain (| slot)
  bool count_instret = true;
  bool sample = false;  // count down RuntimeData::sample_countdown at entry (ExitCode::kSample)
  // Full-system mode: loads and stores look up the software TLB (r15 = SoftTlb*) of this
  // context inline and call these slow paths on a miss; atomics always call them. The block's
  // flags are mixed into its jump-cache keys. nullptr in user mode (r15 = guest_base).
  const SoftMmuHelpers* softmmu = nullptr;
  uint32_t tb_flags = 0;
  // User mode with guest_base == 0 (user::AddressSpace placed at host address 0): guest
  // addresses are host addresses, so memory operands leave r15 out, and a load whose address
  // is an shladd addresses [a + b*scale] itself.
  bool direct_guest_memory = false;
};

// The jump cache key of a guest pc under block flags (tb_flags < 128): flags go in bits
// 56..62, which hold only copies of bit 63 in any canonical Sv39/Sv48 address.
inline uint64_t jump_cache_key(uint64_t pc, uint32_t flags) {
  return pc ^ (static_cast<uint64_t>(flags) << 56);
}

namespace detail {
class Emitter;
}

// The back end of one translator: generates host code for IR blocks inside ctx.buffer, keeping
// its working memory (the emitter, Xbyak's label tables) from one block to the next.
class X86Backend {
 public:
  X86Backend();
  ~X86Backend();
  X86Backend(const X86Backend&) = delete;
  X86Backend& operator=(const X86Backend&) = delete;
  // Generates host code for `ir` at `buf` (inside ctx.buffer, at most `cap` bytes). Returns the
  // size in bytes; throws BackendOverflow when it does not fit or runs out of registers.
  size_t generate(const Ir& ir, const BackendContext& ctx, uint8_t* buf, size_t cap,
                  TbCodeInfo* info);

 private:
  std::unique_ptr<detail::Emitter> emitter_;
  const uint8_t* emitter_base_ = nullptr;
};

// One block with a back end of its own (tests).
size_t generate_x86(const Ir& ir, const BackendContext& ctx, uint8_t* buf, size_t cap,
                    TbCodeInfo* info);

}  // namespace tandem::tcg
