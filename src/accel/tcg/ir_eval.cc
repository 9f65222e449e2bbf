#include "accel/tcg/ir_eval.h"

#include <bit>

namespace tandem::tcg {

namespace {

uint64_t mulhu64(uint64_t a, uint64_t b) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(a) * b) >> 64);
}
uint64_t mulh64(int64_t a, int64_t b) {
  return static_cast<uint64_t>((static_cast<__int128>(a) * b) >> 64);
}
uint64_t mulhsu64(int64_t a, uint64_t b) {
  return static_cast<uint64_t>((static_cast<__int128>(a) * static_cast<__int128>(b)) >> 64);
}

uint64_t eval64(Opc opc, uint8_t aux, uint64_t a, uint64_t b, bool* ok) {
  int64_t sa = static_cast<int64_t>(a), sb = static_cast<int64_t>(b);
  switch (opc) {
    case Opc::kMov:
      return a;
    case Opc::kAdd:
      return a + b;
    case Opc::kSub:
      return a - b;
    case Opc::kMul:
      return a * b;
    case Opc::kAnd:
      return a & b;
    case Opc::kOr:
      return a | b;
    case Opc::kXor:
      return a ^ b;
    case Opc::kAndn:
      return a & ~b;
    case Opc::kOrn:
      return a | ~b;
    case Opc::kXnor:
      return ~(a ^ b);
    case Opc::kShl:
      return a << (b & 63);
    case Opc::kShr:
      return a >> (b & 63);
    case Opc::kSar:
      return static_cast<uint64_t>(sa >> (b & 63));
    case Opc::kRotl:
      return std::rotl(a, static_cast<int>(b & 63));
    case Opc::kRotr:
      return std::rotr(a, static_cast<int>(b & 63));
    case Opc::kNeg:
      return -a;
    case Opc::kNot:
      return ~a;
    case Opc::kMulh:
      return mulh64(sa, sb);
    case Opc::kMulhu:
      return mulhu64(a, b);
    case Opc::kMulhsu:
      return mulhsu64(sa, b);
    case Opc::kDiv:
      if (b == 0) return ~0ull;
      if (sa == INT64_MIN && sb == -1) return a;
      return static_cast<uint64_t>(sa / sb);
    case Opc::kDivu:
      return b == 0 ? ~0ull : a / b;
    case Opc::kRem:
      if (b == 0) return a;
      if (sa == INT64_MIN && sb == -1) return 0;
      return static_cast<uint64_t>(sa % sb);
    case Opc::kRemu:
      return b == 0 ? a : a % b;
    case Opc::kMin:
      return sa < sb ? a : b;
    case Opc::kMax:
      return sa > sb ? a : b;
    case Opc::kMinu:
      return a < b ? a : b;
    case Opc::kShlAdd:
      return a + (b << (aux & 3));
    case Opc::kMaxu:
      return a > b ? a : b;
    case Opc::kSetcc:
      return eval_cond(static_cast<Cond>(aux), Type::kI64, a, b);
    case Opc::kClz:
      return std::countl_zero(a);
    case Opc::kCtz:
      return std::countr_zero(a);
    case Opc::kPopcnt:
      return std::popcount(a);
    case Opc::kBswap:
      return __builtin_bswap64(a);
    case Opc::kOrcB: {
      uint64_t r = 0;
      for (int i = 0; i < 64; i += 8)
        if ((a >> i) & 0xff) r |= 0xffull << i;
      return r;
    }
    default:
      *ok = false;
      return 0;
  }
}

uint32_t eval32(Opc opc, uint8_t aux, uint32_t a, uint32_t b, bool* ok) {
  int32_t sa = static_cast<int32_t>(a), sb = static_cast<int32_t>(b);
  switch (opc) {
    case Opc::kMov:
      return a;
    case Opc::kAdd:
      return a + b;
    case Opc::kSub:
      return a - b;
    case Opc::kMul:
      return a * b;
    case Opc::kAnd:
      return a & b;
    case Opc::kOr:
      return a | b;
    case Opc::kXor:
      return a ^ b;
    case Opc::kAndn:
      return a & ~b;
    case Opc::kOrn:
      return a | ~b;
    case Opc::kXnor:
      return ~(a ^ b);
    case Opc::kShl:
      return a << (b & 31);
    case Opc::kShr:
      return a >> (b & 31);
    case Opc::kSar:
      return static_cast<uint32_t>(sa >> (b & 31));
    case Opc::kRotl:
      return std::rotl(a, static_cast<int>(b & 31));
    case Opc::kRotr:
      return std::rotr(a, static_cast<int>(b & 31));
    case Opc::kNeg:
      return -a;
    case Opc::kNot:
      return ~a;
    case Opc::kMulh:
      return static_cast<uint32_t>((static_cast<int64_t>(sa) * sb) >> 32);
    case Opc::kMulhu:
      return static_cast<uint32_t>((static_cast<uint64_t>(a) * b) >> 32);
    case Opc::kMulhsu:
      return static_cast<uint32_t>((static_cast<int64_t>(sa) * static_cast<int64_t>(b)) >> 32);
    case Opc::kDiv:
      if (b == 0) return ~0u;
      if (sa == INT32_MIN && sb == -1) return a;
      return static_cast<uint32_t>(sa / sb);
    case Opc::kDivu:
      return b == 0 ? ~0u : a / b;
    case Opc::kRem:
      if (b == 0) return a;
      if (sa == INT32_MIN && sb == -1) return 0;
      return static_cast<uint32_t>(sa % sb);
    case Opc::kRemu:
      return b == 0 ? a : a % b;
    case Opc::kMin:
      return sa < sb ? a : b;
    case Opc::kMax:
      return sa > sb ? a : b;
    case Opc::kMinu:
      return a < b ? a : b;
    case Opc::kMaxu:
      return a > b ? a : b;
    case Opc::kSetcc:
      return eval_cond(static_cast<Cond>(aux), Type::kI32, a, b);
    case Opc::kClz:
      return std::countl_zero(a);
    case Opc::kCtz:
      return std::countr_zero(a);
    case Opc::kPopcnt:
      return std::popcount(a);
    case Opc::kBswap:
      return __builtin_bswap32(a);
    default:
      *ok = false;
      return 0;
  }
}

}  // namespace

bool eval_int_op(Opc opc, Type type, uint8_t aux, uint64_t a, uint64_t b, uint64_t* out) {
  bool ok = true;
  switch (opc) {
    case Opc::kSext8:
      *out = static_cast<uint64_t>(static_cast<int8_t>(a));
      return true;
    case Opc::kSext16:
      *out = static_cast<uint64_t>(static_cast<int16_t>(a));
      return true;
    case Opc::kSext32:
      *out = static_cast<uint64_t>(static_cast<int32_t>(a));
      return true;
    case Opc::kZext8:
      *out = a & 0xff;
      return true;
    case Opc::kZext16:
      *out = a & 0xffff;
      return true;
    case Opc::kZext32:
      *out = a & 0xffffffff;
      return true;
    default:
      break;
  }
  if (type == Type::kI64) {
    *out = eval64(opc, aux, a, b, &ok);
  } else if (type == Type::kI32) {
    *out = eval32(opc, aux, static_cast<uint32_t>(a), static_cast<uint32_t>(b), &ok);
  } else {
    return false;
  }
  // setcc results are 0/1 whatever the operand width.
  return ok;
}

}  // namespace tandem::tcg
