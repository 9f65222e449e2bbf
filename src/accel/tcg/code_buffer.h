// The executable memory of the translator: one RWX mapping holding the fixed runtime (jump
// cache, constant pool, exit-request flag, the entry trampoline and its epilogue, a
// register-preserving call thunk for slow paths), followed by the translated blocks, which are
// bump-allocated until the buffer is full and everything is flushed at once.
//
// Generated code reaches the runtime with rip-relative addressing, so all of it lives in one
// mapping smaller than 2 GiB.
#pragma once

#include <cstddef>
#include <cstdint>

#include "accel/tcg/pinned.h"
#include "base/mapping.h"
#include "target/riscv/cpu_state.h"

namespace tandem::tcg {

struct JumpCacheEntry {
  uint64_t pc;          // guest pc, or kInvalidPc
  const uint8_t* code;  // host entry of the TB for pc
};
inline constexpr unsigned kJumpCacheBits = 12;
inline constexpr unsigned kJumpCacheSize = 1u << kJumpCacheBits;
inline constexpr uint64_t kInvalidPc = 1;  // guest pcs are even
inline unsigned jump_cache_index(uint64_t pc) {
  return (pc >> 1) & (kJumpCacheSize - 1);
}

// Stack frame shared by all generated code (set up by the trampoline). rsp is 16-byte aligned
// inside generated code.
inline constexpr int kFrameScratch = 0;  // 32 bytes: helper arguments for slow paths
inline constexpr int kFrameSpill = 32;   // spill slots
inline constexpr int kMaxSpillSlots = 500;
inline constexpr int kFrameOut = kFrameSpill + 8 * kMaxSpillSlots;  // EnterResult*
inline constexpr int kFrameHostMxcsr = kFrameOut + 8;
inline constexpr int kFrameSize = kFrameHostMxcsr + 8 + 8;  // == 8 (mod 16) after 6 pushes
static_assert(kFrameSize % 16 == 8);

// Guest MXCSR: all exceptions masked, round to nearest even, no FTZ/DAZ, flags clear.
inline constexpr uint32_t kGuestMxcsr = 0x1f80;

struct EnterResult {
  uint64_t code;   // ExitCode
  uint64_t aux;    // depends on the code
  uint32_t mxcsr;  // the guest MXCSR at exit (its flag bits are accrued FP exceptions)
  uint32_t pad;
};

// Layout of the first page(s) of the buffer.
struct alignas(64) RuntimeData {
  JumpCacheEntry jump_cache[kJumpCacheSize];
  alignas(64) volatile uint8_t exit_request;
  uint32_t sample_countdown;  // TB entries until the next ExitCode::kSample
  alignas(16) uint64_t f64_canonical_nan;
  // Ranges a float converts to an integer kind (0 i32, 1 u32, 2 i64, 3 u64) without overflow:
  // [upper, lower] bit patterns; the lower bound is exclusive for kinds 1, 3 and f64 kind 0.
  uint64_t f64_bounds[4][2];
  uint32_t f32_bounds[4][2];
  uint32_t f32_canonical_nan;
  uint32_t guest_mxcsr;
};

using EnterFn = void (*)(EnterResult* out, riscv::CpuState* env, uint8_t* guest_base,
                         const uint8_t* code);

class CodeBuffer {
 public:
  // pin_globals: keep the guest state of a PinnedMap (pinned.h) in host registers while
  // generated code runs (the trampoline loads them, the epilogue stores them back).
  explicit CodeBuffer(size_t size = size_t{256} << 20, bool pin_globals = true);

  // The map generated code must follow, or nullptr when nothing is pinned.
  const PinnedMap* pinned() const { return pin_globals_ ? &pinned_ : nullptr; }
  // Switches to another map: only with no translated code (after reset()). Rebuilds the
  // trampoline and the epilogue.
  void set_pinned(const PinnedMap& map);

  RuntimeData* runtime() const { return reinterpret_cast<RuntimeData*>(map_.data()); }
  EnterFn enter() const { return enter_; }
  const uint8_t* epilogue() const { return epilogue_; }
  // Call with rax = uint64_t fn(CpuState*, uint64_t, uint64_t, uint64_t); the three arguments
  // at [rsp+0], [rsp+8] and [rsp+16] of the caller. Preserves every register but rax, rcx, rdx.
  const uint8_t* save_all_thunk() const { return thunk_; }

  uint8_t* cur() const { return map_.data() + used_; }
  uint8_t* base() const { return map_.data(); }
  size_t capacity() const { return map_.size(); }
  size_t remaining() const { return map_.size() - used_; }
  void commit(size_t n) { used_ += (n + 15) & ~size_t{15}; }
  // Drops all translated code (the runtime stays). The jump cache is cleared.
  void reset();
  bool contains(const void* p) const {
    auto* b = static_cast<const uint8_t*>(p);
    return b >= map_.data() + code_start_ && b < map_.data() + used_;
  }
  size_t code_used() const { return used_ - code_start_; }
  void clear_jump_cache();

 private:
  void build_runtime();
  void build_trampolines();

  Mapping map_;
  bool pin_globals_;
  PinnedMap pinned_;
  size_t code_start_ = 0;
  size_t used_ = 0;
  EnterFn enter_ = nullptr;
  const uint8_t* epilogue_ = nullptr;
  const uint8_t* thunk_ = nullptr;
};

}  // namespace tandem::tcg
