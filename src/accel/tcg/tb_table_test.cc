#include "accel/tcg/tb_table.h"

#include <gtest/gtest.h>

#include <deque>

namespace tandem::tcg {
namespace {

struct FakeTb {
  uint64_t pc = 0, phys = 0;
  uint32_t frm = 0, flags = 0;
};
using Table = TbTable<FakeTb>;

TEST(TbTable, FindsByEveryKeyField) {
  Table t;
  FakeTb a{.pc = 0x1000, .phys = 0x80001000}, b{.pc = 0x1000, .phys = 0x80002000},
      c{.pc = 0x1000, .phys = 0x80001000, .frm = 1},
      d{.pc = 0x1000, .phys = 0x80001000, .flags = 3};
  for (FakeTb* x : {&a, &b, &c, &d}) t.insert(x);
  EXPECT_EQ(t.size(), 4u);
  EXPECT_EQ(t.find({0x1000, 0x80001000, 0, 0}), &a);
  EXPECT_EQ(t.find({0x1000, 0x80002000, 0, 0}), &b);
  EXPECT_EQ(t.find({0x1000, 0x80001000, 1, 0}), &c);
  EXPECT_EQ(t.find({0x1000, 0x80001000, 0, 3}), &d);
  EXPECT_EQ(t.find({0x2000, 0x80001000, 0, 0}), nullptr);
}

TEST(TbTable, InsertReplacesAndEraseOnlyRemovesThatBlock) {
  Table t;
  FakeTb old{.pc = 8, .phys = 8}, fresh{.pc = 8, .phys = 8};
  t.insert(&old);
  t.insert(&fresh);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.find({8, 8, 0, 0}), &fresh);
  t.erase(&old);  // no longer indexed: nothing happens
  EXPECT_EQ(t.find({8, 8, 0, 0}), &fresh);
  t.erase(&fresh);
  EXPECT_EQ(t.find({8, 8, 0, 0}), nullptr);
  EXPECT_EQ(t.size(), 0u);
}

TEST(TbTable, GrowsAndSurvivesChurn) {
  Table t;
  std::deque<FakeTb> tbs;
  for (uint64_t i = 0; i < 50000; ++i) {
    tbs.push_back({.pc = i * 2, .phys = 0x80000000 + i * 2});
    t.insert(&tbs.back());
    if (i % 3 == 0) t.erase(&tbs[i / 2]);  // tombstones along the way
  }
  size_t present = 0;
  for (uint64_t i = 0; i < tbs.size(); ++i) {
    FakeTb* found = t.find({i * 2, 0x80000000 + i * 2, 0, 0});
    if (found) {
      EXPECT_EQ(found, &tbs[i]);
      ++present;
    }
  }
  EXPECT_EQ(present, t.size());
  EXPECT_GT(present, 30000u);
  t.clear();
  EXPECT_EQ(t.find({0, 0x80000000, 0, 0}), nullptr);
}

}  // namespace
}  // namespace tandem::tcg
