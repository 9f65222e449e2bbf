// Each optimisation pass on small IR programs, checking the IR it produces.
#include <gtest/gtest.h>

#include <cstddef>

#include "accel/tcg/ir.h"
#include "accel/tcg/ir_eval.h"
#include "accel/tcg/opt.h"

namespace tandem::tcg {
namespace {

int count(const Ir& ir, Opc o) {
  int n = 0;
  for (const Op& op : ir.ops) n += op.opc == o;
  return n;
}

const Op* find_op(const Ir& ir, Opc o) {
  for (const Op& op : ir.ops)
    if (op.opc == o) return &op;
  return nullptr;
}

TEST(ConstFold, FoldsChainsOfConstants) {
  Ir ir;
  Temp a = ir.mov(Type::kI64, ir.constant(Type::kI64, 6));
  Temp b = ir.binop_imm(Opc::kMul, Type::kI64, a, 7);
  Temp c = ir.binop_imm(Opc::kSub, Type::kI64, b, 2);
  ir.st_global(Type::kI64, 80, c);
  opt_const_fold(ir);
  const Op* st = find_op(ir, Opc::kStGlobal);
  ASSERT_NE(st, nullptr);
  // The store's input is now known: either directly a constant or a mov of one.
  Temp v = st->a;
  if (!ir.is_const(v)) {
    for (const Op& op : ir.ops)
      if (op.d == v && op.opc == Opc::kMov) v = op.a;
  }
  ASSERT_TRUE(ir.is_const(v)) << ir.dump();
  EXPECT_EQ(ir.const_value(v), 40u);
}

TEST(ConstFold, ThirtyTwoBitSemantics) {
  Ir ir;
  Temp x = ir.binop(Opc::kAdd, Type::kI32, ir.constant(Type::kI32, 0x7fffffff),
                    ir.constant(Type::kI32, 1));
  Temp y = ir.unop(Opc::kSext32, Type::kI64, x);
  ir.st_global(Type::kI64, 80, y);
  opt_const_fold(ir);
  opt_copy_prop(ir);
  const Op* st = find_op(ir, Opc::kStGlobal);
  ASSERT_TRUE(ir.is_const(st->a)) << ir.dump();
  EXPECT_EQ(ir.const_value(st->a), 0xffffffff80000000ull);
}

TEST(ConstFold, IdentitiesAndReassociation) {
  Ir ir;
  Temp x = ir.ld_global(Type::kI64, 88);
  Temp a = ir.binop_imm(Opc::kAdd, Type::kI64, x, 0);  // copy
  Temp b = ir.binop_imm(Opc::kAnd, Type::kI64, a, 0);  // constant 0
  Temp c = ir.binop_imm(Opc::kAdd, Type::kI64, x, 16);
  Temp d = ir.binop_imm(Opc::kAdd, Type::kI64, c, 8);  // x + 24
  ir.st_global(Type::kI64, 96, b);
  ir.st_global(Type::kI64, 104, d);
  opt_const_fold(ir);
  opt_copy_prop(ir);
  opt_dce(ir);
  EXPECT_EQ(count(ir, Opc::kAnd), 0) << ir.dump();
  // d is computed straight from x.
  int adds_from_x = 0;
  for (const Op& op : ir.ops)
    if (op.opc == Opc::kAdd && op.a == x && ir.is_const(op.b) && ir.const_value(op.b) == 24)
      ++adds_from_x;
  EXPECT_EQ(adds_from_x, 1) << ir.dump();
}

TEST(ConstFold, RedundantExtensionsBecomeCopies) {
  // crc = table[...] ^ (crc >> 8) as riscv64 code has it: lw, srliw, xor, sext.w.
  Ir ir;
  Temp crc = ir.ld_global(Type::kI64, 120);
  Temp word = ir.load(kMemU32 | kMemSigned, ir.ld_global(Type::kI64, 128), 0);
  Temp shifted = ir.unop(Opc::kSext32, Type::kI64, ir.binop_imm(Opc::kShr, Type::kI32, crc, 8));
  ir.st_global(Type::kI64, 104, shifted);  // a3, read back below through the register
  Temp x = ir.binop(Opc::kXor, Type::kI64, word, ir.ld_global(Type::kI64, 104));
  Temp w = ir.unop(Opc::kSext32, Type::kI64, ir.binop_imm(Opc::kAdd, Type::kI32, x, 0));
  ir.st_global(Type::kI64, 120, w);
  // Not redundant: a zero-extended word keeps its sign extension.
  Temp u = ir.load(kMemU32, ir.ld_global(Type::kI64, 136), 0);
  ir.st_global(Type::kI64, 144, ir.unop(Opc::kSext32, Type::kI64, u));
  ir.goto_tb(0, 0x1000);
  opt_const_fold(ir);
  opt_copy_prop(ir);
  opt_dce(ir);
  EXPECT_EQ(count(ir, Opc::kSext32), 1) << ir.dump();
  EXPECT_EQ(count(ir, Opc::kAdd), 0) << ir.dump();
  for (const Op& op : ir.ops) {
    if (op.opc == Opc::kSext32) {
      EXPECT_EQ(op.a, u) << ir.dump();
    }
  }
}

TEST(ConstFold, ConstantBranches) {
  Ir ir;
  uint32_t l = ir.new_label();
  ir.brcond(Cond::kLt, Type::kI64, ir.constant(Type::kI64, 1), ir.constant(Type::kI64, 2), l);
  ir.goto_tb(1, 0x100);
  ir.label(l);
  ir.goto_tb(0, 0x200);
  opt_const_fold(ir);
  EXPECT_EQ(count(ir, Opc::kBrcond), 0);
  EXPECT_EQ(count(ir, Opc::kBr), 1);
  opt_dce(ir);
  // The fall-through exit is unreachable now.
  EXPECT_EQ(count(ir, Opc::kGotoTb), 1) << ir.dump();
  EXPECT_EQ(find_op(ir, Opc::kGotoTb)->imm, 0x200);
}

TEST(CopyProp, ReplacesUsesOfCopies) {
  Ir ir;
  Temp x = ir.ld_global(Type::kI64, 88);
  Temp y = ir.mov(Type::kI64, x);
  Temp z = ir.binop(Opc::kXor, Type::kI64, y, y);
  ir.st_global(Type::kI64, 96, z);
  opt_copy_prop(ir);
  EXPECT_EQ(count(ir, Opc::kMov), 0);
  const Op* xo = find_op(ir, Opc::kXor);
  EXPECT_EQ(xo->a, x);
  EXPECT_EQ(xo->b, x);
}

TEST(CopyProp, KeepsCopiesOfMultiplyWrittenTemps) {
  Ir ir;
  Temp x = ir.new_temp(Type::kI64);
  uint32_t l = ir.new_label();
  ir.emit({.opc = Opc::kMov, .type = Type::kI64, .d = x, .a = ir.constant(Type::kI64, 1)});
  ir.brcond(Cond::kEq, Type::kI64, ir.ld_global(Type::kI64, 88), ir.constant(Type::kI64, 0), l);
  ir.emit({.opc = Opc::kMov, .type = Type::kI64, .d = x, .a = ir.constant(Type::kI64, 2)});
  ir.label(l);
  ir.st_global(Type::kI64, 96, x);
  opt_copy_prop(ir);
  opt_const_fold(ir);
  EXPECT_EQ(count(ir, Opc::kMov), 2) << ir.dump();
  EXPECT_EQ(find_op(ir, Opc::kStGlobal)->a, x);
}

TEST(Dce, RemovesDeadChainsButKeepsSideEffects) {
  Ir ir;
  Temp x = ir.ld_global(Type::kI64, 88);
  Temp dead1 = ir.binop_imm(Opc::kAdd, Type::kI64, x, 1);
  ir.binop_imm(Opc::kShl, Type::kI64, dead1, 3);  // result unused
  ir.load(kMemU64, x, 0);                         // unused but may fault: kept
  ir.store(kMemU32, x, 8, x);
  ir.exit(ExitCode::kContinue, 0x1000);
  ir.binop_imm(Opc::kAdd, Type::kI64, x, 5);  // unreachable
  opt_dce(ir);
  EXPECT_EQ(count(ir, Opc::kAdd), 0) << ir.dump();
  EXPECT_EQ(count(ir, Opc::kShl), 0);
  EXPECT_EQ(count(ir, Opc::kLoad), 1);
  EXPECT_EQ(count(ir, Opc::kStore), 1);
  EXPECT_EQ(count(ir, Opc::kExit), 1);
}

TEST(Globals, LoadsOnceStoresOnceAtTheExit) {
  Ir ir;
  // x5 = x5 + 1 three times, reading x6 each time.
  for (int i = 0; i < 3; ++i) {
    Temp a = ir.ld_global(Type::kI64, 40);
    Temp b = ir.ld_global(Type::kI64, 48);
    ir.st_global(Type::kI64, 40, ir.binop(Opc::kAdd, Type::kI64, a, b));
  }
  ir.goto_tb(0, 0x1000);
  opt_globals(ir);
  opt_copy_prop(ir);
  opt_dce(ir);
  EXPECT_EQ(count(ir, Opc::kLdGlobal), 2) << ir.dump();
  EXPECT_EQ(count(ir, Opc::kStGlobal), 1);
  // The store comes right before the exit.
  ASSERT_GE(ir.ops.size(), 2u);
  EXPECT_EQ(ir.ops[ir.ops.size() - 2].opc, Opc::kStGlobal);
}

TEST(Globals, FaultingOpsCarryPendingWrites) {
  Ir ir;
  Temp a = ir.ld_global(Type::kI64, 40);
  Temp b = ir.binop_imm(Opc::kAdd, Type::kI64, a, 8);
  ir.st_global(Type::kI64, 56, b);
  Temp v = ir.load(kMemU64, b, 0);
  ir.st_global(Type::kI64, 64, v);
  ir.goto_tb(0, 0x1000);
  opt_globals(ir);
  const Op* ld = find_op(ir, Opc::kLoad);
  ASSERT_GE(ld->sync, 0);
  ASSERT_EQ(ir.syncs[ld->sync].size(), 1u);
  EXPECT_EQ(ir.syncs[ld->sync][0].offset, 56);
  EXPECT_EQ(ir.syncs[ld->sync][0].value, b);
}

TEST(Globals, HelperBarriersAndTypeChanges) {
  Ir ir;
  ir.st_global(Type::kI64, 40, ir.constant(Type::kI64, 7));
  ir.call(reinterpret_cast<const void*>(&count), kCallPassEnv | kCallReadsEnv | kCallWritesEnv,
          Type::kI64);
  ir.ld_global(Type::kI64, 40);  // must be reloaded after a helper that writes env
  ir.st_global(Type::kF32, 200, ir.constant(Type::kF32, 0x3f800000));
  Temp raw = ir.ld_global(Type::kI64, 200);  // needs the boxed bits: store then reload
  ir.st_global(Type::kI64, 48, raw);
  ir.goto_tb(0, 0x1000);
  opt_globals(ir);
  // Store of x5 before the call; the reload after it stays.
  size_t call_at = 0, store_at = 0;
  for (size_t i = 0; i < ir.ops.size(); ++i) {
    if (ir.ops[i].opc == Opc::kCall) call_at = i;
    if (ir.ops[i].opc == Opc::kStGlobal && ir.ops[i].imm == 40) store_at = i;
  }
  EXPECT_LT(store_at, call_at) << ir.dump();
  EXPECT_EQ(count(ir, Opc::kLdGlobal), 2) << ir.dump();
  // The f32 store precedes the i64 load of the same register.
  for (size_t i = 0; i < ir.ops.size(); ++i) {
    if (ir.ops[i].opc == Opc::kLdGlobal && ir.ops[i].imm == 200) {
      ASSERT_GT(i, 0u);
      EXPECT_EQ(ir.ops[i - 1].opc, Opc::kStGlobal);
      EXPECT_EQ(ir.ops[i - 1].type, Type::kF32);
    }
  }
}

// slli + add: one shladd (lea), the shl left for dce; not when the shift has another use.
TEST(Fuse, ShiftFeedingOneAddBecomesShladd) {
  Ir ir;
  Temp x = ir.ld_global(Type::kI64, 88);
  Temp y = ir.ld_global(Type::kI64, 96);
  Temp s = ir.binop_imm(Opc::kShl, Type::kI64, x, 2);
  Temp sum = ir.binop(Opc::kAdd, Type::kI64, y, s);
  ir.st_global(Type::kI64, 104, sum);
  Temp s2 = ir.binop_imm(Opc::kShl, Type::kI64, x, 3);
  ir.st_global(Type::kI64, 112, ir.binop(Opc::kAdd, Type::kI64, s2, y));
  ir.st_global(Type::kI64, 120, s2);                    // a second use: no fusion
  Temp s3 = ir.binop_imm(Opc::kShl, Type::kI64, x, 4);  // not a lea scale
  ir.st_global(Type::kI64, 128, ir.binop(Opc::kAdd, Type::kI64, s3, y));
  opt_fuse(ir);
  opt_dce(ir);
  ASSERT_EQ(count(ir, Opc::kShlAdd), 1) << ir.dump();
  const Op* f = find_op(ir, Opc::kShlAdd);
  EXPECT_EQ(f->a, y);
  EXPECT_EQ(f->b, x);
  EXPECT_EQ(f->aux, 2);
  EXPECT_EQ(f->d, sum);
  EXPECT_EQ(count(ir, Opc::kShl), 2) << ir.dump();  // the fused one is gone
  uint64_t r = 0;
  ASSERT_TRUE(eval_int_op(Opc::kShlAdd, Type::kI64, 3, 5, 7, &r));
  EXPECT_EQ(r, 5u + (7u << 3));
}

// Pinned guest registers (x10 is pinned in the default map): a run of stores without anything
// in between that could see the register keeps only its last store, and the loads in the run
// read the stored temporaries.
TEST(Pinned, ForwardsStoresAndDropsOverwrittenOnes) {
  const PinnedMap& map = PinnedMap::default_map();
  const int32_t x10 = 8 * 10 + static_cast<int32_t>(offsetof(riscv::CpuState, x));
  const int32_t x11 = x10 + 8;
  ASSERT_GE(map.reg_of(x10), 0);
  Ir ir;
  Temp a = ir.ld_global(Type::kI64, x10);
  Temp b = ir.binop_imm(Opc::kAnd, Type::kI64, a, 255);
  ir.st_global(Type::kI64, x10, b);  // dead: overwritten below before anyone sees x10
  Temp c = ir.binop_imm(Opc::kShl, Type::kI64, ir.ld_global(Type::kI64, x10), 2);
  ir.st_global(Type::kI64, x10, c);  // dead too
  Temp d = ir.binop(Opc::kAdd, Type::kI64, ir.ld_global(Type::kI64, x10), a);
  ir.st_global(Type::kI64, x10, d);  // stays: the guest load below may fault and see it
  Temp v = ir.load(kMemU32, d, 0);
  ir.st_global(Type::kI64, x10, v);
  ir.st_global(Type::kI32, x10, v);  // a narrower store does not make the one before dead
  ir.st_global(Type::kI64, x11, ir.constant(Type::kI64, 0x1000));
  ir.load(kMemU8, d, 0);
  Temp k = ir.ld_global(Type::kI64, x11);  // the constant is still known after the load
  ir.st_global(Type::kI64, x11, ir.binop_imm(Opc::kAdd, Type::kI64, k, 4));
  ir.goto_tb(0, 0x1000);
  opt_pinned(ir, &map);

  std::vector<const Op*> stores;
  for (const Op& op : ir.ops)
    if (op.opc == Opc::kStGlobal) stores.push_back(&op);
  ASSERT_EQ(stores.size(), 5u) << ir.dump();
  EXPECT_EQ(stores[0]->a, d);
  EXPECT_EQ(stores[1]->a, v);
  EXPECT_EQ(stores[2]->type, Type::kI32);
  EXPECT_EQ(stores[3]->imm, x11);
  EXPECT_EQ(stores[4]->imm, x11);
  // Only the first load of x10 is left; the others and the x11 load became movs.
  EXPECT_EQ(count(ir, Opc::kLdGlobal), 1) << ir.dump();
  EXPECT_EQ(count(ir, Opc::kMov), 3) << ir.dump();
  for (const Op& op : ir.ops) {
    if (op.opc == Opc::kMov && op.d == k) {
      EXPECT_TRUE(ir.is_const(op.a));
    }
  }
}

// A label (paths merge) or a helper that writes guest state ends what is known.
TEST(Pinned, ForgetsAtLabelsAndEnvWritingCalls) {
  const PinnedMap& map = PinnedMap::default_map();
  const int32_t x10 = 8 * 10 + static_cast<int32_t>(offsetof(riscv::CpuState, x));
  Ir ir;
  ir.st_global(Type::kI64, x10, ir.constant(Type::kI64, 1));
  ir.label(ir.new_label());
  ir.ld_global(Type::kI64, x10);
  ir.st_global(Type::kI64, x10, ir.constant(Type::kI64, 2));
  ir.call(reinterpret_cast<const void*>(&count), kCallPassEnv | kCallWritesEnv, Type::kI64);
  ir.ld_global(Type::kI64, x10);
  ir.goto_tb(0, 0x1000);
  opt_pinned(ir, &map);
  EXPECT_EQ(count(ir, Opc::kLdGlobal), 2) << ir.dump();
  EXPECT_EQ(count(ir, Opc::kStGlobal), 2) << ir.dump();
}

TEST(Dump, PrintsOps) {
  Ir ir;
  ir.insn_start(0x1000);
  Temp a = ir.ld_global(Type::kI64, 40);
  ir.st_global(Type::kI64, 48, ir.binop_imm(Opc::kAdd, Type::kI64, a, -3));
  ir.goto_tb(0, 0x1004);
  std::string s = ir.dump();
  EXPECT_NE(s.find("---- 0000000000001000"), std::string::npos) << s;
  EXPECT_NE(s.find("add.i64 t2, t0, $-3"), std::string::npos) << s;
  EXPECT_NE(s.find("goto_tb"), std::string::npos) << s;
}

}  // namespace
}  // namespace tandem::tcg
