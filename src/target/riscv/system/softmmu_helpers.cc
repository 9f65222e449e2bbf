// The translator's slow paths in full-system mode (accel/tcg/softmmu.h): loads and stores that
// missed the inline TLB lookup (a TLB refill, MMIO, misaligned or page-crossing accesses,
// stores into pages holding translated code) and every atomic. They run on the hart's
// SystemMemory, so the interpreter and generated code share one TLB and one fault report.
#include <cstring>

#include "accel/tcg/ir.h"
#include "target/riscv/system/system_memory.h"

namespace tandem::riscv {
namespace {

SystemMemory& memory_of(CpuState* env) {
  return *static_cast<SystemMemory*>(env->sys);
}

uint64_t sign_extend(uint64_t v, unsigned size) {
  if (size >= 8) return v;
  const unsigned shift = 64 - 8 * size;
  return static_cast<uint64_t>(static_cast<int64_t>(v << shift) >> shift);
}

uint64_t fault(CpuState* env, SystemMemory& mem, MemFault f) {
  mem.set_fault(f);
  env->mem_fault = tcg::kMemFaultAccess;
  return 0;
}

uint64_t load(CpuState* env, uint64_t vaddr, uint64_t memop, uint64_t) {
  SystemMemory& mem = memory_of(env);
  const unsigned size = tcg::memop_size(static_cast<uint8_t>(memop));
  uint64_t v = 0;
  if (const uint8_t* h = mem.translate(vaddr, size, Access::kRead)) {
    std::memcpy(&v, h, size);
  } else if (mem.last_fault().kind == FaultKind::kSlow) {
    const MemFault f = mem.access(vaddr, {reinterpret_cast<uint8_t*>(&v), size}, Access::kRead);
    if (f.kind != FaultKind::kNone) return fault(env, mem, f);
  } else {
    env->mem_fault = tcg::kMemFaultAccess;
    return 0;
  }
  return (memop & tcg::kMemSigned) ? sign_extend(v, size) : v;
}

uint64_t store(CpuState* env, uint64_t vaddr, uint64_t memop, uint64_t value) {
  SystemMemory& mem = memory_of(env);
  const unsigned size = tcg::memop_size(static_cast<uint8_t>(memop));
  if (uint8_t* h = mem.translate(vaddr, size, Access::kWrite)) {
    std::memcpy(h, &value, size);
  } else if (mem.last_fault().kind == FaultKind::kSlow) {
    const MemFault f =
        mem.access(vaddr, {reinterpret_cast<uint8_t*>(&value), size}, Access::kWrite);
    if (f.kind != FaultKind::kNone) return fault(env, mem, f);
  } else {
    env->mem_fault = tcg::kMemFaultAccess;
  }
  return 0;
}

template <typename T>
T amo_apply(tcg::AmoKind kind, T old, T v) {
  using S = std::make_signed_t<T>;
  switch (kind) {
    case tcg::AmoKind::kSwap:
      return v;
    case tcg::AmoKind::kAdd:
      return old + v;
    case tcg::AmoKind::kXor:
      return old ^ v;
    case tcg::AmoKind::kAnd:
      return old & v;
    case tcg::AmoKind::kOr:
      return old | v;
    case tcg::AmoKind::kMin:
      return static_cast<S>(old) < static_cast<S>(v) ? old : v;
    case tcg::AmoKind::kMax:
      return static_cast<S>(old) > static_cast<S>(v) ? old : v;
    case tcg::AmoKind::kMinu:
      return old < v ? old : v;
    case tcg::AmoKind::kMaxu:
      return old > v ? old : v;
  }
  return v;
}

template <typename T>
uint64_t amo(uint8_t* host, tcg::AmoKind kind, uint64_t value) {
  T* p = reinterpret_cast<T*>(host);
  T old = __atomic_load_n(p, __ATOMIC_RELAXED);
  const T v = static_cast<T>(value);
  while (!__atomic_compare_exchange_n(p, &old, amo_apply(kind, old, v), true, __ATOMIC_SEQ_CST,
                                      __ATOMIC_RELAXED)) {
  }
  return sign_extend(old, sizeof(T));
}

// An atomic that cannot use RAM (MMIO) is an access fault, as on hardware without AMO PMAs.
uint64_t atomic_target_fault(CpuState* env, SystemMemory& mem, uint64_t vaddr) {
  const FaultKind k = mem.last_fault().kind;
  return fault(env, mem, {k == FaultKind::kSlow ? FaultKind::kAccess : k, vaddr});
}

uint64_t atomic(CpuState* env, uint64_t vaddr, uint64_t value, uint64_t desc) {
  SystemMemory& mem = memory_of(env);
  const auto opc = static_cast<tcg::Opc>(desc & 0xff);
  const unsigned size = tcg::memop_size(static_cast<uint8_t>(desc >> 8));
  const auto kind = static_cast<tcg::AmoKind>((desc >> 16) & 0xff);
  if (vaddr & (size - 1)) {
    env->mem_fault = tcg::kMemFaultMisaligned;
    return 0;
  }
  if (opc == tcg::Opc::kLr) {
    const uint8_t* h = mem.translate(vaddr, size, Access::kRead);
    if (!h) return atomic_target_fault(env, mem, vaddr);
    uint64_t v = 0;
    std::memcpy(&v, h, size);
    v = sign_extend(v, size);
    env->reservation_addr = vaddr;
    env->reservation_value = v;
    env->reservation_valid = true;
    return v;
  }
  if (opc == tcg::Opc::kSc) {
    // The reservation first, then permissions (as the interpreter does).
    const bool ok = env->reservation_valid && env->reservation_addr == vaddr;
    env->reservation_valid = false;
    if (!ok) return 1;
    uint8_t* h = mem.translate(vaddr, size, Access::kWrite);
    if (!h) return atomic_target_fault(env, mem, vaddr);
    if (size == 4) {
      uint32_t expected = static_cast<uint32_t>(env->reservation_value);
      if (sign_extend(expected, 4) != env->reservation_value) return 1;
      return __atomic_compare_exchange_n(reinterpret_cast<uint32_t*>(h), &expected,
                                         static_cast<uint32_t>(value), false, __ATOMIC_SEQ_CST,
                                         __ATOMIC_RELAXED)
                 ? 0
                 : 1;
    }
    uint64_t expected = env->reservation_value;
    return __atomic_compare_exchange_n(reinterpret_cast<uint64_t*>(h), &expected, value, false,
                                       __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)
               ? 0
               : 1;
  }
  uint8_t* h = mem.translate(vaddr, size, Access::kWrite);
  if (!h) return atomic_target_fault(env, mem, vaddr);
  return size == 4 ? amo<uint32_t>(h, kind, value) : amo<uint64_t>(h, kind, value);
}

}  // namespace

const tcg::SoftMmuHelpers& SystemMemory::helpers() const {
  static const tcg::SoftMmuHelpers h{.load = load, .store = store, .atomic = atomic};
  return h;
}

}  // namespace tandem::riscv
