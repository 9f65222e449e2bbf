// The x86-64 back end on hand-built IR, run on a CpuState: every integer op against the
// reference evaluator (with and without the optimiser, with the host's extensions and with
// baseline x86-64 only), register pressure and spilling, helper calls, branches inside a block,
// guest loads/stores and precise load faults.
#include <gtest/gtest.h>

#include <random>

#include "accel/tcg/backend_x86.h"
#include "accel/tcg/code_buffer.h"
#include "accel/tcg/ir_eval.h"
#include "accel/tcg/opt.h"
#include "accel/tcg/test_memory.h"
#include "target/riscv/translate_internal.h"

namespace tandem::tcg {
namespace {

using riscv::CpuState;

// Where guest register x<r> lives in CpuState: the translator's own helper.
using riscv::translate_detail::x_off;

class BackendTest : public ::testing::TestWithParam<bool> {
 protected:
  BackendTest() : buf_(size_t{64} << 20), mem_(1 << 16) {
    mem_.attach(cpu_);
    features_ = GetParam() ? HostFeatures::host() : HostFeatures::baseline();
  }

  // Generates and runs `ir`; returns the exit code.
  EnterResult run(Ir& ir, bool optimise) {
    if (optimise) optimize(ir, OptFlags{});
    if (buf_.remaining() < (1 << 20)) buf_.reset();
    TbCodeInfo info;
    BackendContext ctx{.features = &features_,
                       .buffer = &buf_,
                       .tb_pc = 0x1000,
                       .tb_cookie = 0x100000,
                       .count_instret = true};
    uint8_t* code = buf_.cur();
    size_t n = generate_x86(ir, ctx, code, buf_.remaining(), &info);
    buf_.commit(n);
    EnterResult r{};
    buf_.enter()(&r, &cpu_, cpu_.guest_base, code);
    return r;
  }

  CodeBuffer buf_;
  testing::FlatMemory mem_;
  CpuState cpu_;
  HostFeatures features_;
};

const Opc kIntBinops[] = {Opc::kAdd,   Opc::kSub,    Opc::kMul,  Opc::kAnd,  Opc::kOr,
                          Opc::kXor,   Opc::kAndn,   Opc::kOrn,  Opc::kXnor, Opc::kShl,
                          Opc::kShr,   Opc::kSar,    Opc::kRotl, Opc::kRotr, Opc::kMulh,
                          Opc::kMulhu, Opc::kMulhsu, Opc::kDiv,  Opc::kDivu, Opc::kRem,
                          Opc::kRemu,  Opc::kMin,    Opc::kMax,  Opc::kMinu, Opc::kMaxu};
const Opc kIntUnops[] = {Opc::kNeg,    Opc::kNot,    Opc::kSext8,  Opc::kSext16, Opc::kSext32,
                         Opc::kZext8,  Opc::kZext16, Opc::kZext32, Opc::kClz,    Opc::kCtz,
                         Opc::kPopcnt, Opc::kBswap,  Opc::kOrcB};

std::vector<uint64_t> interesting_values() {
  std::vector<uint64_t> v = {0,
                             1,
                             2,
                             3,
                             7,
                             31,
                             32,
                             63,
                             64,
                             0x80,
                             0xff,
                             0x7fffffff,
                             0x80000000,
                             0xffffffff,
                             0x100000000,
                             0x7fffffffffffffff,
                             0x8000000000000000,
                             ~0ull,
                             ~0ull - 1,
                             0xffffffff80000000,
                             0x123456789abcdef0};
  std::mt19937_64 rng(42);
  for (int i = 0; i < 12; ++i) v.push_back(rng());
  return v;
}

TEST_P(BackendTest, IntegerBinopsMatchTheEvaluator) {
  const auto values = interesting_values();
  int checked = 0;
  for (Opc o : kIntBinops) {
    for (Type t : {Type::kI64, Type::kI32}) {
      if (t == Type::kI32 && (o == Opc::kMulh || o == Opc::kMulhu || o == Opc::kMulhsu)) continue;
      for (size_t i = 0; i < values.size(); i += 2) {
        for (size_t j = 0; j < values.size(); j += 3) {
          for (int form = 0; form < 3; ++form) {  // reg,reg / reg,const / same-temp
            uint64_t a = values[i], b = form == 2 ? a : values[j];
            Ir ir;
            Temp ta = ir.ld_global(Type::kI64, x_off(1));
            Temp tb = form == 1 ? ir.constant(Type::kI64, b)
                                : (form == 2 ? ta : ir.ld_global(Type::kI64, x_off(2)));
            Temp r = ir.binop(o, t, ta, tb);
            ir.st_global(Type::kI64, x_off(3), r);
            ir.exit(ExitCode::kContinue, 0x2000);
            cpu_.x[1] = a;
            cpu_.x[2] = b;
            run(ir, form == 1);
            uint64_t expect;
            ASSERT_TRUE(eval_int_op(o, t, 0, a, b, &expect));
            if (t == Type::kI32) expect &= 0xffffffff;
            ASSERT_EQ(cpu_.x[3], expect) << opc_name(o) << (t == Type::kI32 ? ".i32 " : ".i64 ")
                                         << std::hex << a << ", " << b << " form " << form;
            ++checked;
          }
        }
      }
    }
  }
  EXPECT_GT(checked, 1000);
}

TEST_P(BackendTest, IntegerUnopsAndSetcc) {
  for (uint64_t a : interesting_values()) {
    for (Opc o : kIntUnops) {
      for (Type t : {Type::kI64, Type::kI32}) {
        if (t == Type::kI32 && o == Opc::kOrcB) continue;
        Ir ir;
        Temp r = ir.unop(o, t, ir.ld_global(Type::kI64, x_off(1)));
        ir.st_global(Type::kI64, x_off(3), r);
        ir.exit(ExitCode::kContinue, 0x2000);
        cpu_.x[1] = a;
        run(ir, false);
        uint64_t expect;
        ASSERT_TRUE(eval_int_op(o, t, 0, a, 0, &expect));
        bool ext = o >= Opc::kSext8 && o <= Opc::kZext32;
        if (t == Type::kI32 && !ext) expect &= 0xffffffff;
        ASSERT_EQ(cpu_.x[3], expect) << opc_name(o) << " " << std::hex << a;
      }
    }
    for (uint64_t b : {uint64_t{0}, uint64_t{1}, ~uint64_t{0}, a, a + 1, a - 1}) {
      for (int c = 0; c <= static_cast<int>(Cond::kGtu); ++c) {
        for (Type t : {Type::kI64, Type::kI32}) {
          Ir ir;
          Temp r = ir.setcc(static_cast<Cond>(c), t, ir.ld_global(Type::kI64, x_off(1)),
                            ir.ld_global(Type::kI64, x_off(2)));
          ir.st_global(Type::kI64, x_off(3), r);
          // brcond on the same condition, too.
          uint32_t l = ir.new_label();
          ir.st_global(Type::kI64, x_off(4), ir.constant(Type::kI64, 0));
          ir.brcond(static_cast<Cond>(c), t, ir.ld_global(Type::kI64, x_off(1)),
                    ir.ld_global(Type::kI64, x_off(2)), l);
          ir.exit(ExitCode::kContinue, 0x2000);
          ir.label(l);
          ir.st_global(Type::kI64, x_off(4), ir.constant(Type::kI64, 1));
          ir.exit(ExitCode::kContinue, 0x3000);
          cpu_.x[1] = a;
          cpu_.x[2] = b;
          run(ir, true);
          bool e = eval_cond(static_cast<Cond>(c), t, a, b);
          ASSERT_EQ(cpu_.x[3], e ? 1u : 0u) << c << " " << std::hex << a << " " << b;
          ASSERT_EQ(cpu_.x[4], e ? 1u : 0u);
          ASSERT_EQ(cpu_.pc, e ? 0x3000u : 0x2000u);
        }
      }
    }
  }
}

uint64_t test_helper(CpuState* env, uint64_t a, uint64_t b, uint64_t c) {
  return a * 3 + b * 5 + c * 7 + env->x[9];
}

TEST_P(BackendTest, RegisterPressureSpillsAndCalls) {
  // 40 values live at once, a helper call in the middle, all summed at the end.
  std::mt19937_64 rng(7);
  for (int round = 0; round < 20; ++round) {
    Ir ir;
    std::vector<Temp> vals;
    uint64_t seeds[4];
    for (int i = 0; i < 4; ++i) {
      seeds[i] = rng();
      cpu_.x[10 + i] = seeds[i];
    }
    cpu_.x[9] = rng();
    std::vector<uint64_t> expect_vals;
    for (int i = 0; i < 40; ++i) {
      Temp s = ir.ld_global(Type::kI64, x_off(10 + i % 4));
      vals.push_back(
          ir.binop_imm(Opc::kXor, Type::kI64, ir.binop_imm(Opc::kMul, Type::kI64, s, i + 1), i));
      expect_vals.push_back((seeds[i % 4] * (i + 1)) ^ i);
    }
    Temp h = ir.call(reinterpret_cast<const void*>(&test_helper), kCallPassEnv, Type::kI64, vals[0],
                     vals[1], vals[39]);
    Temp sum = h;
    for (Temp v : vals) sum = ir.binop(Opc::kAdd, Type::kI64, sum, v);
    ir.st_global(Type::kI64, x_off(5), sum);
    ir.exit(ExitCode::kContinue, 0x2000);
    run(ir, round % 2 == 0);
    uint64_t expect = expect_vals[0] * 3 + expect_vals[1] * 5 + expect_vals[39] * 7 + cpu_.x[9];
    for (uint64_t v : expect_vals) expect += v;
    ASSERT_EQ(cpu_.x[5], expect) << "round " << round;
  }
}

TEST_P(BackendTest, LoadsStoresAndPreciseFaults) {
  for (uint8_t m = 0; m < 8; ++m) {
    const unsigned size = memop_size(m);
    Ir ir;
    ir.insn_start(0x1000);
    Temp base = ir.ld_global(Type::kI64, x_off(1));
    ir.store(m & 3, base, 16, ir.ld_global(Type::kI64, x_off(2)));
    ir.insn_start(0x1004);
    ir.st_global(Type::kI64, x_off(3), ir.load(m, base, 16));
    ir.exit(ExitCode::kContinue, 0x2000);
    cpu_.x[1] = 0x100;
    cpu_.x[2] = 0xfedcba9876543210ull;
    run(ir, true);
    uint64_t raw = cpu_.x[2] & (size == 8 ? ~0ull : (1ull << (8 * size)) - 1);
    uint64_t expect = raw;
    if ((m & kMemSigned) && size < 8 && (raw >> (8 * size - 1))) expect |= ~0ull << (8 * size);
    ASSERT_EQ(cpu_.x[3], expect) << int(m);
    uint64_t in_mem = 0;
    std::memcpy(&in_mem, mem_.base() + 0x110, size);
    ASSERT_EQ(in_mem, raw);
  }
  // A load beyond the guest limit: exits with the address, pc at the load, the earlier
  // register write made visible and the later one not.
  Ir ir;
  ir.insn_start(0x1000);
  ir.st_global(Type::kI64, x_off(4), ir.constant(Type::kI64, 77));
  ir.insn_start(0x1004);
  Temp v = ir.load(kMemU32, ir.ld_global(Type::kI64, x_off(1)), 8);
  ir.st_global(Type::kI64, x_off(5), v);
  ir.exit(ExitCode::kContinue, 0x2000);
  cpu_.x[1] = mem_.size() + 0x1000;
  cpu_.x[4] = 0;
  cpu_.x[5] = 5;
  cpu_.instret = 0;
  EnterResult r = run(ir, true);
  EXPECT_EQ(r.code, static_cast<uint64_t>(ExitCode::kGuest) +
                        static_cast<uint64_t>(riscv::ExitKind::kLoadFault));
  EXPECT_EQ(r.aux, mem_.size() + 0x1008);
  EXPECT_EQ(cpu_.pc, 0x1004u);
  EXPECT_EQ(cpu_.x[4], 77u);
  EXPECT_EQ(cpu_.x[5], 5u);
  EXPECT_EQ(cpu_.instret, 1u);
}

INSTANTIATE_TEST_SUITE_P(HostAndBaseline, BackendTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "host" : "baseline"; });

}  // namespace
}  // namespace tandem::tcg
