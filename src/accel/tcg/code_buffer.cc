#include "accel/tcg/code_buffer.h"

#include <xbyak/xbyak.h>

#include <cstring>

namespace tandem::tcg {

namespace {

using namespace Xbyak::util;  // NOLINT

uint32_t f32_bits(float f) {
  uint32_t v;
  std::memcpy(&v, &f, 4);
  return v;
}
uint64_t f64_bits(double f) {
  uint64_t v;
  std::memcpy(&v, &f, 8);
  return v;
}

}  // namespace

CodeBuffer::CodeBuffer(size_t size, bool pin_globals)
    : map_(Mapping::anonymous(size, PROT_READ | PROT_WRITE | PROT_EXEC)),
      pin_globals_(pin_globals) {
  build_runtime();
}

void CodeBuffer::clear_jump_cache() {
  RuntimeData* rt = runtime();
  for (JumpCacheEntry& e : rt->jump_cache) e = {kInvalidPc, nullptr};
}

void CodeBuffer::reset() {
  used_ = code_start_;
  clear_jump_cache();
}

void CodeBuffer::build_runtime() {
  RuntimeData* rt = runtime();
  clear_jump_cache();
  rt->exit_request = 0;
  rt->f64_canonical_nan = 0x7ff8000000000000ull;
  const double two31 = 2147483648.0, two32 = 4294967296.0, two63 = 9223372036854775808.0;
  // u64 stops at 2^63: larger values take the helper (cvttsd2si is signed).
  const double upper[4] = {two31, two32, two63, two63};
  const double lower64[4] = {-two31 - 1, -1.0, -two63, -1.0};
  const double lower32[4] = {-two31, -1.0, -two63, -1.0};
  for (int k = 0; k < 4; ++k) {
    rt->f64_bounds[k][0] = f64_bits(upper[k]);
    rt->f64_bounds[k][1] = f64_bits(lower64[k]);
    rt->f32_bounds[k][0] = f32_bits(static_cast<float>(upper[k]));
    rt->f32_bounds[k][1] = f32_bits(static_cast<float>(lower32[k]));
  }
  rt->f32_canonical_nan = 0x7fc00000u;
  rt->guest_mxcsr = kGuestMxcsr;
  build_trampolines();
}

void CodeBuffer::set_pinned(const PinnedMap& map) {
  pinned_ = map;
  build_trampolines();
  reset();
}

void CodeBuffer::build_trampolines() {
  RuntimeData* rt = runtime();
  size_t off = (sizeof(RuntimeData) + 63) & ~size_t{63};
  Xbyak::CodeGenerator g(4096, map_.data() + off);
  // enter(out=rdi, env=rsi, guest_base=rdx, code=rcx)
  enter_ = reinterpret_cast<EnterFn>(const_cast<uint8_t*>(g.getCurr()));
  for (const Xbyak::Reg64& r : {rbx, rbp, r12, r13, r14, r15}) g.push(r);
  g.sub(rsp, kFrameSize);
  g.mov(g.ptr[rsp + kFrameOut], rdi);
  g.stmxcsr(g.ptr[rsp + kFrameHostMxcsr]);
  g.ldmxcsr(g.ptr[rip + &rt->guest_mxcsr]);
  g.mov(r14, rsi);
  g.mov(r15, rdx);
  if (pin_globals_) {
    pinned_.for_each(
        [&](const PinnedGlobal& p) { g.mov(Xbyak::Reg64(p.host_reg), g.ptr[r14 + p.offset]); });
  }
  g.jmp(rcx);

  // Epilogue: eax = exit code, rdx = aux.
  g.align(16);
  epilogue_ = g.getCurr();
  if (pin_globals_) {
    pinned_.for_each(
        [&](const PinnedGlobal& p) { g.mov(g.ptr[r14 + p.offset], Xbyak::Reg64(p.host_reg)); });
  }
  g.mov(rdi, g.ptr[rsp + kFrameOut]);
  g.mov(g.ptr[rdi], rax);
  g.mov(g.ptr[rdi + 8], rdx);
  g.stmxcsr(g.ptr[rdi + 16]);
  g.ldmxcsr(g.ptr[rsp + kFrameHostMxcsr]);
  g.add(rsp, kFrameSize);
  for (const Xbyak::Reg64& r : {r15, r14, r13, r12, rbp, rbx}) g.pop(r);
  g.ret();

  // Register-preserving call thunk for slow paths.
  g.align(16);
  thunk_ = g.getCurr();
  const Xbyak::Reg64 saved[] = {rsi, rdi, r8, r9, r10, r11};
  for (const Xbyak::Reg64& r : saved) g.push(r);
  const int xmm_area = 16 * 16 + 8;  // keeps rsp 16-byte aligned at the call
  g.sub(rsp, xmm_area);
  for (int i = 0; i < 16; ++i) g.movdqu(g.ptr[rsp + 16 * i], Xbyak::Xmm(i));
  const int caller = xmm_area + 8 * 6 + 8;  // caller's rsp
  g.mov(rdi, r14);
  g.mov(rsi, g.ptr[rsp + caller + 0]);
  g.mov(rdx, g.ptr[rsp + caller + 8]);
  g.mov(rcx, g.ptr[rsp + caller + 16]);
  g.call(rax);
  for (int i = 0; i < 16; ++i) g.movdqu(Xbyak::Xmm(i), g.ptr[rsp + 16 * i]);
  g.add(rsp, xmm_area);
  for (int i = 5; i >= 0; --i) g.pop(saved[i]);
  g.ret();

  code_start_ = (off + g.getSize() + 4095) & ~size_t{4095};
  used_ = code_start_;
}

}  // namespace tandem::tcg
