#include "target/riscv/interp.h"

#include <time.h>

#include <atomic>
#include <bit>
#include <cstring>
#include <memory>

#include "target/riscv/fp.h"

namespace tandem::riscv {
namespace {

using u128 = unsigned __int128;
using i128 = __int128;

int64_t sext32(uint64_t v) {
  return static_cast<int32_t>(static_cast<uint32_t>(v));
}

enum class Step { kNext, kJumped, kExit };

// Decoding dominates an interpreter's time; the result depends on the instruction bits only,
// so a direct-mapped cache keyed by those bits is always coherent (even for code that changes).
struct DecodeCache {
  static constexpr unsigned kBits = 13;
  struct Entry {
    uint32_t raw = 0;
    bool valid = false;
    DecodedInsn insn;
  };
  Entry entries[1u << kBits];

  const DecodedInsn& get(uint32_t raw) {
    Entry& e = entries[(raw * 0x9e3779b1u) >> (32 - kBits)];
    if (!e.valid || e.raw != raw) {
      e.insn = decode(raw);
      e.raw = raw;
      e.valid = true;
    }
    return e.insn;
  }
};

bool is_branch(Op op) {
  switch (op) {
    case Op::kBeq:
    case Op::kBne:
    case Op::kBlt:
    case Op::kBge:
    case Op::kBltu:
    case Op::kBgeu:
      return true;
    default:
      return false;
  }
}

DecodeCache& decode_cache() {
  thread_local auto cache = std::make_unique<DecodeCache>();
  return *cache;
}

class Interpreter {
 public:
  Interpreter(CpuState& cpu, GuestMemory& mem, const InterpOptions& options = {})
      : cpu_(cpu), mem_(mem), options_(options) {}

  ExitInfo run(uint64_t max_insns, const InsnHook* hook) {
    for (uint64_t n = 0; n < max_insns; ++n) {
      DecodedInsn d;
      if (!fetch(d)) return exit_;
      if (hook && *hook) (*hook)(cpu_.pc, d);
      const Step s = execute(d);
      if (s == Step::kExit) return exit_;
      if (s == Step::kNext) cpu_.pc += d.length;
      ++cpu_.instret;
      if (d.op == Op::kFenceI) return {ExitKind::kFenceI, 0};
      if (options_.one_block && (s == Step::kJumped || is_branch(d.op))) break;
    }
    return {ExitKind::kInterrupted, 0};
  }

 private:
  bool fetch(DecodedInsn& d) {
    const uint64_t pc = cpu_.pc;
    const uint8_t* lo = mem_.translate(pc, 2, Access::kExec);
    if (!lo) return fault(ExitKind::kFetchFault, pc);
    uint16_t half;
    std::memcpy(&half, lo, 2);
    uint32_t raw = half;
    if (insn_length(half) == 4) {
      const uint8_t* hi = mem_.translate(pc + 2, 2, Access::kExec);
      if (!hi) return fault(ExitKind::kFetchFault, pc + 2);
      uint16_t upper;
      std::memcpy(&upper, hi, 2);
      raw |= static_cast<uint32_t>(upper) << 16;
    }
    d = decode_cache().get(raw);
    return true;
  }

  bool fault(ExitKind kind, uint64_t info) {
    exit_ = {kind, info};
    return false;
  }
  Step exit(ExitKind kind, uint64_t info) {
    exit_ = {kind, info};
    return Step::kExit;
  }
  Step illegal(const DecodedInsn& d) { return exit(ExitKind::kIllegalInstruction, d.raw); }

  void set_x(unsigned r, uint64_t v) {
    if (r != 0) cpu_.x[r] = v;
  }
  uint64_t x(unsigned r) const { return cpu_.x[r]; }
  uint32_t fs(unsigned r) const { return fp::unbox32(cpu_.f[r]); }
  uint64_t fd(unsigned r) const { return cpu_.f[r]; }
  void set_fs(unsigned r, uint32_t v) { cpu_.f[r] = fp::box32(v); }
  void set_fd(unsigned r, uint64_t v) { cpu_.f[r] = v; }

  template <typename T>
  bool load(uint64_t addr, T& out) {
    const uint8_t* p = mem_.translate(addr, sizeof(T), Access::kRead);
    if (!p) return fault(ExitKind::kLoadFault, addr);
    std::memcpy(&out, p, sizeof(T));
    return true;
  }
  template <typename T>
  bool store(uint64_t addr, T value) {
    uint8_t* p = mem_.translate(addr, sizeof(T), Access::kWrite);
    if (!p) return fault(ExitKind::kStoreFault, addr);
    std::memcpy(p, &value, sizeof(T));
    return true;
  }

  // Resolves the instruction's rounding mode; false for a reserved dynamic frm.
  bool rounding(const DecodedInsn& d, unsigned& rm) const {
    rm = d.rm == kDYN ? cpu_.frm : d.rm;
    return rm <= kRMM;
  }

  Step execute(const DecodedInsn& d);
  Step execute_amo(const DecodedInsn& d);
  Step execute_csr(const DecodedInsn& d);
  Step execute_fp(const DecodedInsn& d);

  CpuState& cpu_;
  GuestMemory& mem_;
  const InterpOptions options_;
  ExitInfo exit_{ExitKind::kInterrupted, 0};
};

template <typename T>
T sat_div(T a, T b) {  // signed division with the RISC-V edge cases
  if (b == 0) return -1;
  if (b == -1) return static_cast<T>(0 - static_cast<std::make_unsigned_t<T>>(a));
  return a / b;
}
template <typename T>
T sat_rem(T a, T b) {
  if (b == 0) return a;
  if (b == -1) return 0;
  return a % b;
}

uint64_t orc_b(uint64_t v) {
  uint64_t r = 0;
  for (int i = 0; i < 8; ++i) {
    if ((v >> (8 * i)) & 0xff) r |= 0xffull << (8 * i);
  }
  return r;
}

Step Interpreter::execute(const DecodedInsn& d) {
  const uint64_t a = x(d.rs1), b = x(d.rs2);
  const uint64_t imm = static_cast<uint64_t>(d.imm);
  const uint64_t pc = cpu_.pc;
  auto branch = [&](bool taken) {
    if (!taken) return Step::kNext;
    cpu_.pc = pc + imm;
    return Step::kJumped;
  };
  auto ld = [&](auto type_tag, bool sign) {
    using T = decltype(type_tag);
    T v;
    if (!load(a + imm, v)) return Step::kExit;
    if (sign) {
      set_x(d.rd,
            static_cast<uint64_t>(static_cast<int64_t>(static_cast<std::make_signed_t<T>>(v))));
    } else {
      set_x(d.rd, v);
    }
    return Step::kNext;
  };
  auto st = [&](auto value) { return store(a + imm, value) ? Step::kNext : Step::kExit; };
  const int64_t sa = static_cast<int64_t>(a), sb = static_cast<int64_t>(b);
  const int32_t wa = static_cast<int32_t>(a), wb = static_cast<int32_t>(b);
  const uint32_t ua = static_cast<uint32_t>(a), ub = static_cast<uint32_t>(b);

  switch (d.op) {
    case Op::kIllegal:
      return illegal(d);
    case Op::kLui:
      set_x(d.rd, imm);
      return Step::kNext;
    case Op::kAuipc:
      set_x(d.rd, pc + imm);
      return Step::kNext;
    case Op::kJal:
      set_x(d.rd, pc + d.length);
      cpu_.pc = pc + imm;
      return Step::kJumped;
    case Op::kJalr: {
      const uint64_t target = (a + imm) & ~1ull;
      set_x(d.rd, pc + d.length);
      cpu_.pc = target;
      return Step::kJumped;
    }
    case Op::kBeq:
      return branch(a == b);
    case Op::kBne:
      return branch(a != b);
    case Op::kBlt:
      return branch(sa < sb);
    case Op::kBge:
      return branch(sa >= sb);
    case Op::kBltu:
      return branch(a < b);
    case Op::kBgeu:
      return branch(a >= b);
    case Op::kLb:
      return ld(uint8_t{}, true);
    case Op::kLh:
      return ld(uint16_t{}, true);
    case Op::kLw:
      return ld(uint32_t{}, true);
    case Op::kLd:
      return ld(uint64_t{}, false);
    case Op::kLbu:
      return ld(uint8_t{}, false);
    case Op::kLhu:
      return ld(uint16_t{}, false);
    case Op::kLwu:
      return ld(uint32_t{}, false);
    case Op::kSb:
      return st(static_cast<uint8_t>(b));
    case Op::kSh:
      return st(static_cast<uint16_t>(b));
    case Op::kSw:
      return st(static_cast<uint32_t>(b));
    case Op::kSd:
      return st(b);
    case Op::kAddi:
      set_x(d.rd, a + imm);
      return Step::kNext;
    case Op::kSlti:
      set_x(d.rd, sa < d.imm);
      return Step::kNext;
    case Op::kSltiu:
      set_x(d.rd, a < imm);
      return Step::kNext;
    case Op::kXori:
      set_x(d.rd, a ^ imm);
      return Step::kNext;
    case Op::kOri:
      set_x(d.rd, a | imm);
      return Step::kNext;
    case Op::kAndi:
      set_x(d.rd, a & imm);
      return Step::kNext;
    case Op::kSlli:
      set_x(d.rd, a << (imm & 63));
      return Step::kNext;
    case Op::kSrli:
      set_x(d.rd, a >> (imm & 63));
      return Step::kNext;
    case Op::kSrai:
      set_x(d.rd, static_cast<uint64_t>(sa >> (imm & 63)));
      return Step::kNext;
    case Op::kAdd:
      set_x(d.rd, a + b);
      return Step::kNext;
    case Op::kSub:
      set_x(d.rd, a - b);
      return Step::kNext;
    case Op::kSll:
      set_x(d.rd, a << (b & 63));
      return Step::kNext;
    case Op::kSlt:
      set_x(d.rd, sa < sb);
      return Step::kNext;
    case Op::kSltu:
      set_x(d.rd, a < b);
      return Step::kNext;
    case Op::kXor:
      set_x(d.rd, a ^ b);
      return Step::kNext;
    case Op::kSrl:
      set_x(d.rd, a >> (b & 63));
      return Step::kNext;
    case Op::kSra:
      set_x(d.rd, static_cast<uint64_t>(sa >> (b & 63)));
      return Step::kNext;
    case Op::kOr:
      set_x(d.rd, a | b);
      return Step::kNext;
    case Op::kAnd:
      set_x(d.rd, a & b);
      return Step::kNext;
    case Op::kAddiw:
      set_x(d.rd, sext32(a + imm));
      return Step::kNext;
    case Op::kSlliw:
      set_x(d.rd, sext32(ua << (imm & 31)));
      return Step::kNext;
    case Op::kSrliw:
      set_x(d.rd, sext32(ua >> (imm & 31)));
      return Step::kNext;
    case Op::kSraiw:
      set_x(d.rd, static_cast<uint64_t>(wa >> (imm & 31)));
      return Step::kNext;
    case Op::kAddw:
      set_x(d.rd, sext32(a + b));
      return Step::kNext;
    case Op::kSubw:
      set_x(d.rd, sext32(a - b));
      return Step::kNext;
    case Op::kSllw:
      set_x(d.rd, sext32(ua << (b & 31)));
      return Step::kNext;
    case Op::kSrlw:
      set_x(d.rd, sext32(ua >> (b & 31)));
      return Step::kNext;
    case Op::kSraw:
      set_x(d.rd, static_cast<uint64_t>(wa >> (b & 31)));
      return Step::kNext;
    case Op::kFence:
      // See fence_orders_store_load: device threads share guest memory.
      if (fence_orders_store_load(d)) std::atomic_thread_fence(std::memory_order_seq_cst);
      return Step::kNext;
    case Op::kFenceI:
      return Step::kNext;  // fence.i is reported by run()
    case Op::kEcall:
      return exit(ExitKind::kEcall, 0);
    case Op::kEbreak:
      return exit(ExitKind::kEbreak, 0);
    case Op::kCsrrw:
    case Op::kCsrrs:
    case Op::kCsrrc:
    case Op::kCsrrwi:
    case Op::kCsrrsi:
    case Op::kCsrrci:
      return execute_csr(d);
    // M
    case Op::kMul:
      set_x(d.rd, a * b);
      return Step::kNext;
    case Op::kMulh:
      set_x(d.rd, static_cast<uint64_t>((static_cast<i128>(sa) * sb) >> 64));
      return Step::kNext;
    case Op::kMulhsu:
      set_x(d.rd, static_cast<uint64_t>((static_cast<i128>(sa) * static_cast<i128>(b)) >> 64));
      return Step::kNext;
    case Op::kMulhu:
      set_x(d.rd, static_cast<uint64_t>((static_cast<u128>(a) * b) >> 64));
      return Step::kNext;
    case Op::kDiv:
      set_x(d.rd, static_cast<uint64_t>(sat_div<int64_t>(sa, sb)));
      return Step::kNext;
    case Op::kDivu:
      set_x(d.rd, b == 0 ? ~0ull : a / b);
      return Step::kNext;
    case Op::kRem:
      set_x(d.rd, static_cast<uint64_t>(sat_rem<int64_t>(sa, sb)));
      return Step::kNext;
    case Op::kRemu:
      set_x(d.rd, b == 0 ? a : a % b);
      return Step::kNext;
    case Op::kMulw:
      set_x(d.rd, sext32(a * b));
      return Step::kNext;
    case Op::kDivw:
      set_x(d.rd, static_cast<uint64_t>(int64_t{sat_div<int32_t>(wa, wb)}));
      return Step::kNext;
    case Op::kDivuw:
      set_x(d.rd, sext32(ub == 0 ? ~0u : ua / ub));
      return Step::kNext;
    case Op::kRemw:
      set_x(d.rd, static_cast<uint64_t>(int64_t{sat_rem<int32_t>(wa, wb)}));
      return Step::kNext;
    case Op::kRemuw:
      set_x(d.rd, sext32(ub == 0 ? ua : ua % ub));
      return Step::kNext;
    // Zba
    case Op::kAddUw:
      set_x(d.rd, b + ua);
      return Step::kNext;
    case Op::kSh1add:
      set_x(d.rd, b + (a << 1));
      return Step::kNext;
    case Op::kSh2add:
      set_x(d.rd, b + (a << 2));
      return Step::kNext;
    case Op::kSh3add:
      set_x(d.rd, b + (a << 3));
      return Step::kNext;
    case Op::kSh1addUw:
      set_x(d.rd, b + (uint64_t{ua} << 1));
      return Step::kNext;
    case Op::kSh2addUw:
      set_x(d.rd, b + (uint64_t{ua} << 2));
      return Step::kNext;
    case Op::kSh3addUw:
      set_x(d.rd, b + (uint64_t{ua} << 3));
      return Step::kNext;
    case Op::kSlliUw:
      set_x(d.rd, uint64_t{ua} << (imm & 63));
      return Step::kNext;
    // Zbb
    case Op::kAndn:
      set_x(d.rd, a & ~b);
      return Step::kNext;
    case Op::kOrn:
      set_x(d.rd, a | ~b);
      return Step::kNext;
    case Op::kXnor:
      set_x(d.rd, ~(a ^ b));
      return Step::kNext;
    case Op::kClz:
      set_x(d.rd, std::countl_zero(a));
      return Step::kNext;
    case Op::kClzw:
      set_x(d.rd, std::countl_zero(ua));
      return Step::kNext;
    case Op::kCtz:
      set_x(d.rd, std::countr_zero(a));
      return Step::kNext;
    case Op::kCtzw:
      set_x(d.rd, std::countr_zero(ua));
      return Step::kNext;
    case Op::kCpop:
      set_x(d.rd, std::popcount(a));
      return Step::kNext;
    case Op::kCpopw:
      set_x(d.rd, std::popcount(ua));
      return Step::kNext;
    case Op::kMax:
      set_x(d.rd, sa > sb ? a : b);
      return Step::kNext;
    case Op::kMaxu:
      set_x(d.rd, a > b ? a : b);
      return Step::kNext;
    case Op::kMin:
      set_x(d.rd, sa < sb ? a : b);
      return Step::kNext;
    case Op::kMinu:
      set_x(d.rd, a < b ? a : b);
      return Step::kNext;
    case Op::kSextB:
      set_x(d.rd, static_cast<uint64_t>(int64_t{static_cast<int8_t>(a)}));
      return Step::kNext;
    case Op::kSextH:
      set_x(d.rd, static_cast<uint64_t>(int64_t{static_cast<int16_t>(a)}));
      return Step::kNext;
    case Op::kZextH:
      set_x(d.rd, a & 0xffff);
      return Step::kNext;
    case Op::kRol:
      set_x(d.rd, std::rotl(a, static_cast<int>(b & 63)));
      return Step::kNext;
    case Op::kRor:
      set_x(d.rd, std::rotr(a, static_cast<int>(b & 63)));
      return Step::kNext;
    case Op::kRori:
      set_x(d.rd, std::rotr(a, static_cast<int>(imm & 63)));
      return Step::kNext;
    case Op::kRolw:
      set_x(d.rd, sext32(std::rotl(ua, static_cast<int>(b & 31))));
      return Step::kNext;
    case Op::kRorw:
      set_x(d.rd, sext32(std::rotr(ua, static_cast<int>(b & 31))));
      return Step::kNext;
    case Op::kRoriw:
      set_x(d.rd, sext32(std::rotr(ua, static_cast<int>(imm & 31))));
      return Step::kNext;
    case Op::kOrcB:
      set_x(d.rd, orc_b(a));
      return Step::kNext;
    case Op::kRev8:
      set_x(d.rd, __builtin_bswap64(a));
      return Step::kNext;
    default:
      break;
  }
  if (d.format == Format::kAmo || d.format == Format::kLr) return execute_amo(d);
  return execute_fp(d);
}

Step Interpreter::execute_amo(const DecodedInsn& d) {
  const uint64_t addr = x(d.rs1);
  const uint64_t src = x(d.rs2);
  const bool word = (d.expanded >> 12 & 7) == 2;
  const unsigned size = word ? 4 : 8;
  if (addr & (size - 1)) return exit(ExitKind::kMisaligned, addr);
  auto widen = [&](uint64_t v) { return word ? static_cast<uint64_t>(sext32(v)) : v; };
  auto read = [&](const uint8_t* p) {
    if (word) {
      uint32_t v;
      std::memcpy(&v, p, 4);
      return static_cast<uint64_t>(sext32(v));
    }
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
  };
  auto write = [&](uint8_t* p, uint64_t v) {
    if (word) {
      const uint32_t w = static_cast<uint32_t>(v);
      std::memcpy(p, &w, 4);
    } else {
      std::memcpy(p, &v, 8);
    }
  };
  if (d.op == Op::kLrW || d.op == Op::kLrD) {
    const uint8_t* p = mem_.translate(addr, size, Access::kRead);
    if (!p) return exit(ExitKind::kLoadFault, addr);
    const uint64_t v = read(p);
    cpu_.reservation_valid = true;
    cpu_.reservation_addr = addr;
    cpu_.reservation_value = v;
    set_x(d.rd, v);
    return Step::kNext;
  }
  if (d.op == Op::kScW || d.op == Op::kScD) {
    // Like QEMU: the store happens when the address matches the reservation and memory still
    // holds the value LR read.
    const bool valid = cpu_.reservation_valid && cpu_.reservation_addr == addr;
    cpu_.reservation_valid = false;
    if (!valid) {
      set_x(d.rd, 1);
      return Step::kNext;
    }
    uint8_t* p = mem_.translate(addr, size, Access::kWrite);
    if (!p) return exit(ExitKind::kStoreFault, addr);
    if (read(p) != cpu_.reservation_value) {
      set_x(d.rd, 1);
      return Step::kNext;
    }
    write(p, src);
    set_x(d.rd, 0);
    return Step::kNext;
  }
  uint8_t* p = mem_.translate(addr, size, Access::kWrite);
  if (!p || !mem_.translate(addr, size, Access::kRead)) return exit(ExitKind::kStoreFault, addr);
  const uint64_t old = read(p);
  const uint64_t s = widen(src);
  uint64_t result;
  switch (d.op) {
    case Op::kAmoswapW:
    case Op::kAmoswapD:
      result = s;
      break;
    case Op::kAmoaddW:
    case Op::kAmoaddD:
      result = old + s;
      break;
    case Op::kAmoxorW:
    case Op::kAmoxorD:
      result = old ^ s;
      break;
    case Op::kAmoandW:
    case Op::kAmoandD:
      result = old & s;
      break;
    case Op::kAmoorW:
    case Op::kAmoorD:
      result = old | s;
      break;
    case Op::kAmominW:
    case Op::kAmominD:
      result = static_cast<int64_t>(old) < static_cast<int64_t>(s) ? old : s;
      break;
    case Op::kAmomaxW:
    case Op::kAmomaxD:
      result = static_cast<int64_t>(old) > static_cast<int64_t>(s) ? old : s;
      break;
    case Op::kAmominuW:
    case Op::kAmominuD: {
      // Unsigned comparison of the memory-width values.
      const uint64_t uo = word ? static_cast<uint32_t>(old) : old;
      const uint64_t us = word ? static_cast<uint32_t>(s) : s;
      result = uo < us ? old : s;
      break;
    }
    case Op::kAmomaxuW:
    case Op::kAmomaxuD: {
      const uint64_t uo = word ? static_cast<uint32_t>(old) : old;
      const uint64_t us = word ? static_cast<uint32_t>(s) : s;
      result = uo > us ? old : s;
      break;
    }
    default:
      return illegal(d);
  }
  write(p, result);
  set_x(d.rd, old);
  return Step::kNext;
}

uint64_t now_time() {
  return read_time_counter();
}

Step Interpreter::execute_csr(const DecodedInsn& d) {
  const bool imm_form = d.op == Op::kCsrrwi || d.op == Op::kCsrrsi || d.op == Op::kCsrrci;
  const uint64_t operand = imm_form ? static_cast<uint64_t>(d.imm) : x(d.rs1);
  const bool is_write_op = d.op == Op::kCsrrw || d.op == Op::kCsrrwi;
  // csrrs/csrrc with x0 / uimm 0 do not write (and so may target read-only CSRs).
  const bool writes = is_write_op || d.rs1 != 0;
  uint64_t old;
  if (options_.fp_disabled && d.csr >= 0x001 && d.csr <= 0x003) return illegal(d);
  if (options_.system_counters && d.csr >= 0xc00 && d.csr <= 0xc02) return illegal(d);
  switch (d.csr) {
    case 0x001:
      old = cpu_.fflags;
      break;
    case 0x002:
      old = cpu_.frm;
      break;
    case 0x003:
      old = (cpu_.frm << 5) | cpu_.fflags;
      break;
    case 0xc00:
    case 0xc02:
      if (writes) return illegal(d);
      old = cpu_.instret;
      break;
    case 0xc01:
      if (writes) return illegal(d);
      old = now_time();
      break;
    default:
      return illegal(d);
  }
  if (writes) {
    uint64_t value;
    if (is_write_op) {
      value = operand;
    } else if (d.op == Op::kCsrrs || d.op == Op::kCsrrsi) {
      value = old | operand;
    } else {
      value = old & ~operand;
    }
    switch (d.csr) {
      case 0x001:
        cpu_.fflags = value & 0x1f;
        break;
      case 0x002:
        cpu_.frm = value & 7;
        break;
      case 0x003:
        cpu_.fflags = value & 0x1f;
        cpu_.frm = (value >> 5) & 7;
        break;
      default:
        break;
    }
  }
  set_x(d.rd, old);
  return Step::kNext;
}

Step Interpreter::execute_fp(const DecodedInsn& d) {
  const uint64_t a_x = x(d.rs1);
  const uint64_t addr = a_x + static_cast<uint64_t>(d.imm);
  if (options_.fp_disabled) return illegal(d);
  switch (d.op) {
    case Op::kFlw: {
      uint32_t v;
      if (!load(addr, v)) return Step::kExit;
      set_fs(d.rd, v);
      return Step::kNext;
    }
    case Op::kFld: {
      uint64_t v;
      if (!load(addr, v)) return Step::kExit;
      set_fd(d.rd, v);
      return Step::kNext;
    }
    case Op::kFsw:
      return store(addr, static_cast<uint32_t>(cpu_.f[d.rs2])) ? Step::kNext : Step::kExit;
    case Op::kFsd:
      return store(addr, cpu_.f[d.rs2]) ? Step::kNext : Step::kExit;
    default:
      break;
  }
  unsigned rm = 0;
  if (d.uses_rm && !rounding(d, rm)) return illegal(d);
  uint32_t& fl = cpu_.fflags;
  const uint32_t s1 = fs(d.rs1), s2 = fs(d.rs2), s3 = fs(d.rs3);
  const uint64_t d1 = fd(d.rs1), d2 = fd(d.rs2), d3 = fd(d.rs3);
  constexpr uint32_t kS = 0x80000000u;
  constexpr uint64_t kD = 0x8000000000000000ull;
  switch (d.op) {
    case Op::kFmaddS:
      set_fs(d.rd, fp::f32_fma(s1, s2, s3, false, false, rm, fl));
      break;
    case Op::kFmsubS:
      set_fs(d.rd, fp::f32_fma(s1, s2, s3, false, true, rm, fl));
      break;
    case Op::kFnmsubS:
      set_fs(d.rd, fp::f32_fma(s1, s2, s3, true, false, rm, fl));
      break;
    case Op::kFnmaddS:
      set_fs(d.rd, fp::f32_fma(s1, s2, s3, true, true, rm, fl));
      break;
    case Op::kFaddS:
      set_fs(d.rd, fp::f32_add(s1, s2, rm, fl));
      break;
    case Op::kFsubS:
      set_fs(d.rd, fp::f32_sub(s1, s2, rm, fl));
      break;
    case Op::kFmulS:
      set_fs(d.rd, fp::f32_mul(s1, s2, rm, fl));
      break;
    case Op::kFdivS:
      set_fs(d.rd, fp::f32_div(s1, s2, rm, fl));
      break;
    case Op::kFsqrtS:
      set_fs(d.rd, fp::f32_sqrt(s1, rm, fl));
      break;
    case Op::kFsgnjS:
      set_fs(d.rd, (s1 & ~kS) | (s2 & kS));
      break;
    case Op::kFsgnjnS:
      set_fs(d.rd, (s1 & ~kS) | (~s2 & kS));
      break;
    case Op::kFsgnjxS:
      set_fs(d.rd, s1 ^ (s2 & kS));
      break;
    case Op::kFminS:
      set_fs(d.rd, fp::f32_min(s1, s2, fl));
      break;
    case Op::kFmaxS:
      set_fs(d.rd, fp::f32_max(s1, s2, fl));
      break;
    case Op::kFcvtWS:
      set_x(d.rd, fp::f32_to_i32(s1, rm, fl));
      break;
    case Op::kFcvtWuS:
      set_x(d.rd, fp::f32_to_u32(s1, rm, fl));
      break;
    case Op::kFcvtLS:
      set_x(d.rd, fp::f32_to_i64(s1, rm, fl));
      break;
    case Op::kFcvtLuS:
      set_x(d.rd, fp::f32_to_u64(s1, rm, fl));
      break;
    case Op::kFmvXW:
      set_x(d.rd, sext32(cpu_.f[d.rs1]));
      break;  // raw bits, no unboxing
    case Op::kFeqS:
      set_x(d.rd, fp::f32_eq(s1, s2, fl));
      break;
    case Op::kFltS:
      set_x(d.rd, fp::f32_lt(s1, s2, fl));
      break;
    case Op::kFleS:
      set_x(d.rd, fp::f32_le(s1, s2, fl));
      break;
    case Op::kFclassS:
      set_x(d.rd, fp::f32_classify(s1));
      break;
    case Op::kFcvtSW:
      set_fs(d.rd, fp::i32_to_f32(static_cast<int32_t>(a_x), rm, fl));
      break;
    case Op::kFcvtSWu:
      set_fs(d.rd, fp::u32_to_f32(static_cast<uint32_t>(a_x), rm, fl));
      break;
    case Op::kFcvtSL:
      set_fs(d.rd, fp::i64_to_f32(static_cast<int64_t>(a_x), rm, fl));
      break;
    case Op::kFcvtSLu:
      set_fs(d.rd, fp::u64_to_f32(a_x, rm, fl));
      break;
    case Op::kFmvWX:
      set_fs(d.rd, static_cast<uint32_t>(a_x));
      break;
    case Op::kFmaddD:
      set_fd(d.rd, fp::f64_fma(d1, d2, d3, false, false, rm, fl));
      break;
    case Op::kFmsubD:
      set_fd(d.rd, fp::f64_fma(d1, d2, d3, false, true, rm, fl));
      break;
    case Op::kFnmsubD:
      set_fd(d.rd, fp::f64_fma(d1, d2, d3, true, false, rm, fl));
      break;
    case Op::kFnmaddD:
      set_fd(d.rd, fp::f64_fma(d1, d2, d3, true, true, rm, fl));
      break;
    case Op::kFaddD:
      set_fd(d.rd, fp::f64_add(d1, d2, rm, fl));
      break;
    case Op::kFsubD:
      set_fd(d.rd, fp::f64_sub(d1, d2, rm, fl));
      break;
    case Op::kFmulD:
      set_fd(d.rd, fp::f64_mul(d1, d2, rm, fl));
      break;
    case Op::kFdivD:
      set_fd(d.rd, fp::f64_div(d1, d2, rm, fl));
      break;
    case Op::kFsqrtD:
      set_fd(d.rd, fp::f64_sqrt(d1, rm, fl));
      break;
    case Op::kFsgnjD:
      set_fd(d.rd, (d1 & ~kD) | (d2 & kD));
      break;
    case Op::kFsgnjnD:
      set_fd(d.rd, (d1 & ~kD) | (~d2 & kD));
      break;
    case Op::kFsgnjxD:
      set_fd(d.rd, d1 ^ (d2 & kD));
      break;
    case Op::kFminD:
      set_fd(d.rd, fp::f64_min(d1, d2, fl));
      break;
    case Op::kFmaxD:
      set_fd(d.rd, fp::f64_max(d1, d2, fl));
      break;
    case Op::kFcvtSD:
      set_fs(d.rd, fp::f64_to_f32(d1, rm, fl));
      break;
    case Op::kFcvtDS:
      set_fd(d.rd, fp::f32_to_f64(s1, fl));
      break;
    case Op::kFeqD:
      set_x(d.rd, fp::f64_eq(d1, d2, fl));
      break;
    case Op::kFltD:
      set_x(d.rd, fp::f64_lt(d1, d2, fl));
      break;
    case Op::kFleD:
      set_x(d.rd, fp::f64_le(d1, d2, fl));
      break;
    case Op::kFclassD:
      set_x(d.rd, fp::f64_classify(d1));
      break;
    case Op::kFcvtWD:
      set_x(d.rd, fp::f64_to_i32(d1, rm, fl));
      break;
    case Op::kFcvtWuD:
      set_x(d.rd, fp::f64_to_u32(d1, rm, fl));
      break;
    case Op::kFcvtLD:
      set_x(d.rd, fp::f64_to_i64(d1, rm, fl));
      break;
    case Op::kFcvtLuD:
      set_x(d.rd, fp::f64_to_u64(d1, rm, fl));
      break;
    case Op::kFmvXD:
      set_x(d.rd, d1);
      break;
    case Op::kFcvtDW:
      set_fd(d.rd, fp::i32_to_f64(static_cast<int32_t>(a_x), rm, fl));
      break;
    case Op::kFcvtDWu:
      set_fd(d.rd, fp::u32_to_f64(static_cast<uint32_t>(a_x), rm, fl));
      break;
    case Op::kFcvtDL:
      set_fd(d.rd, fp::i64_to_f64(static_cast<int64_t>(a_x), rm, fl));
      break;
    case Op::kFcvtDLu:
      set_fd(d.rd, fp::u64_to_f64(a_x, rm, fl));
      break;
    case Op::kFmvDX:
      set_fd(d.rd, a_x);
      break;
    default:
      return illegal(d);
  }
  return Step::kNext;
}

}  // namespace

uint64_t read_time_counter() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 10'000'000ull + static_cast<uint64_t>(ts.tv_nsec) / 100;
}

ExitInfo interpret(CpuState& cpu, GuestMemory& mem, uint64_t max_insns) {
  return Interpreter(cpu, mem).run(max_insns, nullptr);
}

ExitInfo interpret(CpuState& cpu, GuestMemory& mem, uint64_t max_insns, const InsnHook& hook) {
  return Interpreter(cpu, mem).run(max_insns, &hook);
}

ExitInfo interpret(CpuState& cpu, GuestMemory& mem, uint64_t max_insns, const InsnHook& hook,
                   const InterpOptions& options) {
  return Interpreter(cpu, mem, options).run(max_insns, &hook);
}

}  // namespace tandem::riscv
