// Differential tests: random RISC-V instruction streams run through the reference interpreter
// and through the translator from the same random initial state; the whole architectural state
// (x, f, fflags, frm, pc, instret, reservation, exit kind/info) and data memory must match.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "accel/tcg/engine.h"
#include "accel/tcg/test_memory.h"
#include "target/riscv/decode.h"
#include "target/riscv/interp.h"

namespace tandem::tcg {
namespace {

using riscv::CpuState;
using riscv::ExitInfo;
using riscv::ExitKind;

constexpr uint64_t kCode = 0x1000;
constexpr uint64_t kData = 0x8000;    // x3 points here (loads/stores use offsets around it)
constexpr uint64_t kAtomic = 0xa000;  // x4 points near here (atomics)
constexpr size_t kMemSize = 0x10000;

uint32_t R(uint32_t opc, uint32_t f3, uint32_t f7, uint32_t rd, uint32_t rs1, uint32_t rs2) {
  return f7 << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | rd << 7 | opc;
}
uint32_t I(uint32_t opc, uint32_t f3, uint32_t rd, uint32_t rs1, int32_t imm) {
  return (static_cast<uint32_t>(imm) & 0xfff) << 20 | rs1 << 15 | f3 << 12 | rd << 7 | opc;
}
uint32_t S(uint32_t opc, uint32_t f3, uint32_t rs1, uint32_t rs2, int32_t imm) {
  uint32_t u = static_cast<uint32_t>(imm);
  return ((u >> 5) & 0x7f) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | (u & 0x1f) << 7 | opc;
}
uint32_t B(uint32_t f3, uint32_t rs1, uint32_t rs2, int32_t imm) {
  uint32_t u = static_cast<uint32_t>(imm);
  return ((u >> 12) & 1) << 31 | ((u >> 5) & 0x3f) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 |
         ((u >> 1) & 0xf) << 8 | ((u >> 11) & 1) << 7 | 0x63;
}
uint32_t J(uint32_t rd, int32_t imm) {
  uint32_t u = static_cast<uint32_t>(imm);
  return ((u >> 20) & 1) << 31 | ((u >> 1) & 0x3ff) << 21 | ((u >> 11) & 1) << 20 |
         ((u >> 12) & 0xff) << 12 | rd << 7 | 0x6f;
}
uint32_t R4(uint32_t opc, uint32_t fmt, uint32_t rd, uint32_t rs1, uint32_t rs2, uint32_t rs3,
            uint32_t rm) {
  return rs3 << 27 | fmt << 25 | rs2 << 20 | rs1 << 15 | rm << 12 | rd << 7 | opc;
}
constexpr uint32_t kEcall = 0x00000073;

enum Mix : unsigned {
  kInt = 1,
  kMulDiv = 2,
  kBitManip = 4,
  kMem = 8,
  kBranch = 16,
  kFp = 32,
  kCompressed = 64,
  kAtomics = 128,
  kCsr = 256,
  kAll = 511
};

class Generator {
 public:
  Generator(uint64_t seed, unsigned mix) : rng_(seed), mix_(mix) {}

  uint32_t rnd(uint32_t n) { return static_cast<uint32_t>(rng_() % n); }
  uint32_t reg() { return rnd(32); }
  int32_t simm(int bits) { return static_cast<int32_t>(rng_() % (1u << bits)) - (1 << (bits - 1)); }
  uint32_t rm() {
    static const uint32_t kRm[] = {0, 0, 0, 1, 2, 3, 4, 7, 7, 7};
    return kRm[rnd(10)];
  }

  // One 4-byte slot: a 32-bit instruction or two compressed ones. `slot`/`slots` bound branch
  // targets to the block (forward only, so every block terminates).
  std::vector<uint16_t> slot(unsigned index, unsigned slots) {
    for (;;) {
      uint32_t w;
      if ((mix_ & kCompressed) && rnd(8) == 0) {
        uint16_t a = compressed(), b = compressed();
        return {a, b};
      }
      if (!make(index, slots, &w)) continue;
      riscv::DecodedInsn d = riscv::decode(w);
      if (writes_base(d)) continue;
      return {static_cast<uint16_t>(w), static_cast<uint16_t>(w >> 16)};
    }
  }

 private:
  static bool writes_base(const riscv::DecodedInsn& d) {
    if (d.op == riscv::Op::kIllegal) return false;
    if (d.fregs & 1) return false;
    switch (d.format) {
      case riscv::Format::kStore:
      case riscv::Format::kBranch:
      case riscv::Format::kNone:
      case riscv::Format::kFence:
        return false;
      default:
        return d.rd >= 2 && d.rd <= 4;  // sp, gp, tp: the memory bases
    }
  }

  uint16_t compressed() {
    for (;;) {
      uint16_t h = static_cast<uint16_t>(rng_());
      if ((h & 3) == 3) continue;
      riscv::DecodedInsn d = riscv::decode(h);
      if (d.op == riscv::Op::kIllegal) continue;
      // No control transfers (they could go backwards) and nothing writing the base registers.
      if (d.format == riscv::Format::kBranch || d.format == riscv::Format::kJ ||
          d.op == riscv::Op::kJalr || d.op == riscv::Op::kEbreak)
        continue;
      if (writes_base(d)) continue;
      // Memory accesses: only through the base registers (random addresses would just fault).
      if ((d.format == riscv::Format::kLoad || d.format == riscv::Format::kStore) && d.rs1 != 2)
        continue;
      return h;
    }
  }

  bool make(unsigned index, unsigned slots, uint32_t* w) {
    const uint32_t rd = reg(), rs1 = reg(), rs2 = reg();
    switch (rnd(10)) {
      case 0:
      case 1:
        if (!(mix_ & kInt)) return false;
        switch (rnd(6)) {
          case 0: {
            static const uint32_t f[][2] = {{0, 0}, {0, 0x20}, {1, 0},    {2, 0}, {3, 0},
                                            {4, 0}, {5, 0},    {5, 0x20}, {6, 0}, {7, 0}};
            auto& p = f[rnd(10)];
            *w = R(0x33, p[0], p[1], rd, rs1, rs2);
            return true;
          }
          case 1: {
            uint32_t f3 = rnd(8);
            int32_t imm = simm(12);
            if (f3 == 1) imm = static_cast<int32_t>(rnd(64));
            if (f3 == 5) imm = static_cast<int32_t>(rnd(64) | (rnd(2) << 10));
            *w = I(0x13, f3, rd, rs1, imm);
            return true;
          }
          case 2: {
            static const uint32_t f[][2] = {{0, 0}, {0, 0x20}, {1, 0}, {5, 0}, {5, 0x20}};
            auto& p = f[rnd(5)];
            *w = R(0x3b, p[0], p[1], rd, rs1, rs2);
            return true;
          }
          case 3: {
            static const uint32_t f3s[] = {0, 1, 5};
            uint32_t f3 = f3s[rnd(3)];
            int32_t imm =
                f3 == 0 ? simm(12) : static_cast<int32_t>(rnd(32) | (f3 == 5 ? rnd(2) << 10 : 0));
            *w = I(0x1b, f3, rd, rs1, imm);
            return true;
          }
          case 4:
            *w = (static_cast<uint32_t>(rng_()) & 0xfffff000) | rd << 7 | 0x37;
            return true;
          default:
            *w = (static_cast<uint32_t>(rng_()) & 0xfffff000) | rd << 7 | 0x17;
            return true;
        }
      case 2:
        if (!(mix_ & kMulDiv)) return false;
        *w = rnd(2) ? R(0x33, rnd(8), 1, rd, rs1, rs2)
                    : R(0x3b, rnd(2) ? 0 : 4 + rnd(4), 1, rd, rs1, rs2);
        return true;
      case 3: {
        if (!(mix_ & kBitManip)) return false;
        static const uint32_t op[][3] = {
            {0x33, 7, 0x20}, {0x33, 6, 0x20}, {0x33, 4, 0x20}, {0x33, 4, 0x05}, {0x33, 5, 0x05},
            {0x33, 6, 0x05}, {0x33, 7, 0x05}, {0x33, 1, 0x30}, {0x33, 5, 0x30}, {0x33, 2, 0x10},
            {0x33, 4, 0x10}, {0x33, 6, 0x10}, {0x3b, 0, 0x04}, {0x3b, 2, 0x10}, {0x3b, 4, 0x10},
            {0x3b, 6, 0x10}, {0x3b, 1, 0x30}, {0x3b, 5, 0x30}};
        uint32_t k = rnd(24);
        if (k < 18) {
          *w = R(op[k][0], op[k][1], op[k][2], rd, rs1, rs2);
        } else if (k == 18) {
          static const int32_t un[] = {0x600, 0x601, 0x602, 0x604, 0x605};
          *w = I(0x13, 1, rd, rs1, un[rnd(5)]);
        } else if (k == 19) {
          static const int32_t un[] = {0x287, 0x6b8};
          *w = rnd(3) ? I(0x13, 5, rd, rs1, un[rnd(2)]) : I(0x13, 5, rd, rs1, 0x600 | rnd(64));
        } else if (k == 20) {
          *w = I(0x1b, 1, rd, rs1, 0x600 | rnd(3));
        } else if (k == 21) {
          *w = I(0x1b, 5, rd, rs1, 0x600 | rnd(32));
        } else if (k == 22) {
          *w = I(0x1b, 1, rd, rs1, 0x080 | rnd(64));  // slli.uw
        } else {
          *w = R(0x3b, 4, 0x04, rd, rs1, 0);  // zext.h
        }
        return true;
      }
      case 4: {
        if (!(mix_ & kMem)) return false;
        int32_t off = simm(9);
        switch (rnd(4)) {
          case 0:
            *w = I(0x03, rnd(7), rd, 3, off);
            return true;
          case 1:
            *w = S(0x23, rnd(4), 3, rs2, off);
            return true;
          case 2:
            if (!(mix_ & kFp)) return false;
            *w = I(0x07, 2 + rnd(2), rd, 3, off);
            return true;
          default:
            if (!(mix_ & kFp)) return false;
            *w = S(0x27, 2 + rnd(2), 3, rs2, off);
            return true;
        }
      }
      case 5: {
        if (!(mix_ & kBranch)) return false;
        unsigned room = slots - index;  // slots up to the end of the block
        int32_t off = 4 * static_cast<int32_t>(1 + rnd(std::min(room, 4u)));
        if (rnd(5) == 0) {
          *w = J(rd, off);
        } else {
          static const uint32_t f3s[] = {0, 1, 4, 5, 6, 7};
          // Comparing registers with themselves or x0 often: makes both outcomes likely.
          uint32_t b = rnd(3) == 0 ? rs1 : (rnd(2) ? 0 : rs2);
          *w = B(f3s[rnd(6)], rs1, b, off);
        }
        return true;
      }
      case 6:
      case 7: {
        if (!(mix_ & kFp)) return false;
        const uint32_t fmt = rnd(2);
        switch (rnd(12)) {
          case 0:
            *w = R(0x53, rm(), (rnd(4) << 2) | fmt, rd, rs1, rs2);
            return true;  // add..div
          case 1:
            *w = R(0x53, rm(), 0x2c | fmt, rd, rs1, 0);
            return true;  // sqrt
          case 2:
            *w = R(0x53, rnd(3), 0x10 | fmt, rd, rs1, rnd(3) ? rs2 : rs1);
            return true;
          case 3:
            *w = R(0x53, rnd(2), 0x14 | fmt, rd, rs1, rs2);
            return true;  // min/max
          case 4:
            *w = R(0x53, rm(), fmt ? 0x21 : 0x20, rd, rs1, fmt ? 0 : 1);
            return true;
          case 5:
            *w = R(0x53, rnd(3), 0x50 | fmt, rd, rs1, rs2);
            return true;  // compares
          case 6:
            *w = R(0x53, 1, 0x70 | fmt, rd, rs1, 0);
            return true;  // fclass
          case 7:
            *w = R(0x53, rnd(2) ? 1 : rm(), 0x60 | fmt, rd, rs1, rnd(4));
            return true;
          case 8:
            *w = R(0x53, rm(), 0x68 | fmt, rd, rs1, rnd(4));
            return true;
          case 9:
            *w = R(0x53, 0, (rnd(2) ? 0x70 : 0x78) | fmt, rd, rs1, 0);
            return true;  // fmv
          default:
            *w = R4(0x43 | (rnd(4) << 2), fmt, rd, rs1, rs2, reg(), rm());
            return true;
        }
      }
      case 8: {
        if (!(mix_ & kAtomics)) return false;
        static const uint32_t f5[] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x08, 0x0c,
                                      0x10, 0x14, 0x18, 0x1c, 0x02, 0x03};
        uint32_t k = f5[rnd(13)];
        uint32_t src = k == 0x02 ? 0 : rs2;
        *w = R(0x2f, 2 + rnd(2), (k << 2) | rnd(4), rd, 4, src);
        return true;
      }
      default: {
        if (!(mix_ & kCsr)) return false;
        static const uint32_t csrs[] = {1, 2, 3, 0xc00, 0xc02};
        uint32_t csr = csrs[rnd(5)];
        uint32_t f3 = 1 + rnd(3);
        if (csr >= 0xc00) f3 = 2;
        uint32_t src = rnd(2) ? 0 : rs1;
        if (csr == 2 || csr == 3) {
          // Keep frm valid most of the time: csrrwi with 0..4.
          *w = I(0x73, rnd(4) ? 5 : f3, rd, rnd(5), static_cast<int32_t>(csr));
          if (csr == 3) *w = I(0x73, 5, rd, rnd(32), 3);  // fscrwi: flags random, frm 0
          return true;
        }
        *w = I(0x73, f3, rd, csr >= 0xc00 ? 0 : src, static_cast<int32_t>(csr));
        return true;
      }
    }
  }

  std::mt19937_64 rng_;
  unsigned mix_;
};

uint64_t special_double(std::mt19937_64& rng) {
  static const uint64_t kVals[] = {0,
                                   0x8000000000000000,
                                   0x3ff0000000000000,
                                   0xbff0000000000000,
                                   0x7ff0000000000000,
                                   0xfff0000000000000,
                                   0x7ff8000000000000,
                                   0x7ff4000000000000,
                                   0xfff8000000000001,
                                   0x0000000000000001,
                                   0x000fffffffffffff,
                                   0x7fefffffffffffff,
                                   0x3ff8000000000000,
                                   0x43e0000000000000,
                                   0xc3e0000000000000,
                                   0x41dfffffffc00000,
                                   0x41efffffffe00000,
                                   0xc1e0000000000000,
                                   0x3fe0000000000000,
                                   0x4330000000000001,
                                   0x0010000000000000,
                                   0xbfe8000000000000,
                                   0x43f0000000000000};
  static const uint32_t kSingles[] = {0,          0x80000000, 0x3f800000, 0xbf800000, 0x7f800000,
                                      0xff800000, 0x7fc00000, 0x7fa00000, 0x00000001, 0x007fffff,
                                      0x7f7fffff, 0x3fc00000, 0x5f000000, 0xdf000000, 0x4f000000,
                                      0xcf000000, 0x00800000, 0x3effffff, 0xbf400000};
  switch (rng() % 6) {
    case 0:
      return kVals[rng() % std::size(kVals)];
    case 1:
      return 0xffffffff00000000ull | kSingles[rng() % std::size(kSingles)];
    case 2:
      return 0xffffffff00000000ull | (rng() & 0xffffffff);  // random boxed single
    case 3: {
      double d = static_cast<double>(static_cast<int64_t>(rng() % 2000000) - 1000000) / 7.0;
      uint64_t b;
      std::memcpy(&b, &d, 8);
      return b;
    }
    case 4:
      return rng();  // unboxed as a single
    default: {
      float f = static_cast<float>(static_cast<int32_t>(rng() % 20000) - 10000) / 3.0f;
      uint32_t b;
      std::memcpy(&b, &f, 4);
      return 0xffffffff00000000ull | b;
    }
  }
}

uint64_t special_int(std::mt19937_64& rng) {
  static const uint64_t kVals[] = {
      0,          1,          ~0ull,      0x8000000000000000, 0x7fffffffffffffff,
      0x80000000, 0x7fffffff, 0xffffffff, 0xffffffff80000000, 2,
      63,         64,         0x100000000};
  return rng() % 3 == 0 ? kVals[rng() % std::size(kVals)] : rng();
}

struct Case {
  CpuState cpu;
  std::vector<uint8_t> code;
  std::vector<uint8_t> data;
};

Case make_case(uint64_t seed, unsigned mix, unsigned slots) {
  Case c;
  Generator g(seed, mix);
  std::mt19937_64 rng(seed ^ 0x9e3779b97f4a7c15ull);
  for (unsigned i = 0; i < slots; ++i) {
    for (uint16_t h : g.slot(i, slots)) {
      c.code.push_back(static_cast<uint8_t>(h));
      c.code.push_back(static_cast<uint8_t>(h >> 8));
    }
  }
  for (int i = 0; i < 8; ++i)  // landing pad for forward branches
    for (int b = 0; b < 4; ++b) c.code.push_back(static_cast<uint8_t>(kEcall >> (8 * b)));
  for (int i = 1; i < 32; ++i) c.cpu.x[i] = special_int(rng);
  c.cpu.x[2] = kData - 0x400;  // compressed sp-relative accesses stay in the data area
  c.cpu.x[3] = kData;
  c.cpu.x[4] = kAtomic + (rng() % 8 == 0 ? 4 * (rng() % 4) : 8 * (rng() % 16));
  for (int i = 0; i < 32; ++i) c.cpu.f[i] = special_double(rng);
  c.cpu.fflags = static_cast<uint32_t>(rng() % 32);
  c.cpu.frm = rng() % 10 == 0 ? 7 : static_cast<uint32_t>(rng() % 5);
  c.cpu.pc = kCode;
  c.cpu.instret = rng() % 1000;
  c.data.resize(0x2000);
  for (auto& b : c.data) b = static_cast<uint8_t>(rng());
  return c;
}

class DifferentialTest : public ::testing::Test {
 protected:
  DifferentialTest() : imem_(kMemSize), tmem_(kMemSize) { use(TcgOptions{}); }

  void use(TcgOptions o) {
    o.code_size = size_t{32} << 20;
    engine_.reset();
    engine_ = std::make_unique<TcgEngine>(tmem_, riscv::TraceOptions{}, o);
  }

  void load(testing::FlatMemory& m, const Case& c) {
    std::memset(m.base(), 0, kMemSize);
    std::memcpy(m.base() + kCode, c.code.data(), c.code.size());
    std::memcpy(m.base() + kData - 0x1000, c.data.data(), c.data.size());
  }

  // Runs until an exit the caller would have to handle.
  static bool done(const ExitInfo& e) {
    return e.kind != ExitKind::kFenceI && e.kind != ExitKind::kInterrupted;
  }

  void check(uint64_t seed, unsigned mix, unsigned slots) {
    Case c = make_case(seed, mix, slots);
    engine_->invalidate_code(0, UINT64_MAX);
    load(imem_, c);
    load(tmem_, c);
    CpuState ic = c.cpu, tc = c.cpu;
    imem_.attach(ic);
    tmem_.attach(tc);
    ExitInfo ie, te;
    do ie = riscv::interpret(ic, imem_, 100000);
    while (!done(ie));
    do te = engine_->run(tc);
    while (!done(te));
    SCOPED_TRACE(::testing::Message() << "seed " << seed << " mix " << mix);
    ASSERT_EQ(static_cast<int>(ie.kind), static_cast<int>(te.kind))
        << "pc interp " << std::hex << ic.pc << " tcg " << tc.pc << "\n"
        << listing(c);
    ASSERT_EQ(ie.info, te.info) << listing(c);
    ASSERT_EQ(ic.pc, tc.pc) << listing(c);
    for (int i = 0; i < 32; ++i) ASSERT_EQ(ic.x[i], tc.x[i]) << "x" << i << "\n" << listing(c);
    for (int i = 0; i < 32; ++i) ASSERT_EQ(ic.f[i], tc.f[i]) << "f" << i << "\n" << listing(c);
    ASSERT_EQ(ic.fflags, tc.fflags) << listing(c);
    ASSERT_EQ(ic.frm, tc.frm);
    ASSERT_EQ(ic.instret, tc.instret) << listing(c);
    ASSERT_EQ(ic.reservation_valid, tc.reservation_valid);
    if (ic.reservation_valid) {
      ASSERT_EQ(ic.reservation_addr, tc.reservation_addr);
      ASSERT_EQ(ic.reservation_value, tc.reservation_value);
    }
    ASSERT_EQ(0, std::memcmp(imem_.base(), tmem_.base(), kMemSize)) << "memory\n" << listing(c);
  }

  static std::string listing(const Case& c) {
    std::string s;
    for (size_t off = 0; off + 2 <= c.code.size();) {
      uint32_t raw = c.code[off] | c.code[off + 1] << 8;
      if (riscv::insn_length(static_cast<uint16_t>(raw)) == 4 && off + 4 <= c.code.size())
        raw |= static_cast<uint32_t>(c.code[off + 2] | c.code[off + 3] << 8) << 16;
      riscv::DecodedInsn d = riscv::decode(raw);
      s += fmt::format("  {:x}: {:08x} {}\n", kCode + off, raw, riscv::disassemble(d, kCode + off));
      off += d.length;
      if (d.op == riscv::Op::kEcall) break;
    }
    return s;
  }

  testing::FlatMemory imem_, tmem_;
  std::unique_ptr<TcgEngine> engine_;
};

TEST_F(DifferentialTest, Integer) {
  for (uint64_t seed = 1; seed <= 600; ++seed) check(seed, kInt | kMulDiv | kBranch, 24);
}
TEST_F(DifferentialTest, BitManipAndCompressed) {
  for (uint64_t seed = 1; seed <= 400; ++seed) check(seed, kInt | kBitManip | kCompressed, 24);
}
TEST_F(DifferentialTest, Memory) {
  for (uint64_t seed = 1; seed <= 400; ++seed) check(seed, kInt | kMem | kBranch, 24);
}
TEST_F(DifferentialTest, FloatingPoint) {
  for (uint64_t seed = 1; seed <= 800; ++seed) check(seed, kFp | kMem | kCsr, 24);
}
TEST_F(DifferentialTest, Atomics) {
  for (uint64_t seed = 1; seed <= 300; ++seed) check(seed, kInt | kAtomics, 16);
}
// For debugging one case: TCG_SEED=n TCG_MIX=m --gtest_also_run_disabled_tests.
TEST_F(DifferentialTest, DISABLED_OneSeed) {
  const char* seed = getenv("TCG_SEED");
  const char* mix = getenv("TCG_MIX");
  if (seed && mix)
    check(std::stoull(seed), std::stoul(mix),
          std::stoul(getenv("TCG_SLOTS") ? getenv("TCG_SLOTS") : "32"));
}
TEST_F(DifferentialTest, Everything) {
  for (uint64_t seed = 1; seed <= 1500; ++seed) check(seed, kAll, 32);
}
TEST_F(DifferentialTest, EverythingWithoutOptimisation) {
  TcgOptions o;
  o.opt = OptFlags::none();
  use(o);
  for (uint64_t seed = 5000; seed <= 5400; ++seed) check(seed, kAll, 32);
}
TEST_F(DifferentialTest, EverythingOnBaselineX86) {
  TcgOptions o;
  o.features = HostFeatures::baseline();
  use(o);
  for (uint64_t seed = 7000; seed <= 7400; ++seed) check(seed, kAll, 32);
}
TEST_F(DifferentialTest, EverythingWithOnePassAtATime) {
  for (int pass = 0; pass < 6; ++pass) {
    TcgOptions o;
    o.opt = OptFlags::none();
    (pass == 0   ? o.opt.globals
     : pass == 1 ? o.opt.const_fold
     : pass == 2 ? o.opt.copy_prop
     : pass == 3 ? o.opt.dce
     : pass == 4 ? o.opt.fuse
                 : o.opt.pinned_stores) = true;
    use(o);
    for (uint64_t seed = 9000u + 1000u * pass; seed <= 9150u + 1000u * pass; ++seed)
      check(seed, kAll, 32);
  }
}
// The pinned guest registers are chosen from samples after a few TB entries, mid-case, and
// the cases after it run with that map (a new engine every few cases).
TEST_F(DifferentialTest, ChosenPinnedRegisters) {
  for (uint64_t seed = 11000; seed <= 11300; ++seed) {
    if (seed % 25 == 0) {
      TcgOptions o;
      o.pin_sample_period = 1 + seed % 3;
      o.pin_samples = 2 + seed % 5;
      use(o);
    }
    check(seed, kAll, 32);
  }
  EXPECT_EQ(engine_->stats().remaps, 1u);
}
TEST_F(DifferentialTest, WithoutPinnedRegisters) {
  TcgOptions o;
  o.pin_globals = false;
  use(o);
  for (uint64_t seed = 12000; seed <= 12300; ++seed) check(seed, kAll, 32);
}
TEST_F(DifferentialTest, ShortBlocks) {
  TcgOptions o;
  o.max_insns = 3;
  use(o);
  for (uint64_t seed = 3000; seed <= 3300; ++seed) check(seed, kAll, 32);
}

}  // namespace
}  // namespace tandem::tcg
