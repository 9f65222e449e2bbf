// The iovec helpers: totals, copies in and out at an offset, and the cursor of a transfer that
// the host completed in parts.
#include "block/iov_util.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace tandem {
namespace {

TEST(IovUtil, TotalAndCopiesAtAnOffset) {
  uint8_t a[3] = {}, b[5] = {};
  const std::vector<iovec> iov = {{a, sizeof a}, {b, sizeof b}};
  EXPECT_EQ(iov_total(iov), 8u);
  const uint8_t src[] = {1, 2, 3, 4};
  EXPECT_EQ(copy_to_iov(iov, 2, src, 4), 4u);  // crosses from a into b
  EXPECT_EQ(a[2], 1);
  EXPECT_EQ(b[0], 2);
  EXPECT_EQ(b[2], 4);
  uint8_t out[8] = {};
  EXPECT_EQ(copy_from_iov(iov, 6, out, 8), 2u);  // the list ends first
  EXPECT_EQ(out[0], 0);
}

TEST(IovUtil, AdvanceThroughShortTransfersAndTheRestForTheNextCall) {
  uint8_t a[4], b[1], c[6];
  const std::vector<iovec> iov = {{a, sizeof a}, {b, sizeof b}, {c, sizeof c}};
  std::vector<iovec> scratch;
  size_t index = 0, skip = 0;
  // At the start, with room for all: the list itself, nothing copied.
  EXPECT_EQ(iov_rest(iov, index, skip, 16, scratch).data(), iov.data());
  // More buffers than one call takes: the first `max`.
  auto first_two = iov_rest(iov, index, skip, 2, scratch);
  ASSERT_EQ(first_two.size(), 2u);
  EXPECT_EQ(first_two[1].iov_base, b);
  // 3 bytes done: inside a.
  iov_advance(iov, index, skip, 3);
  EXPECT_EQ(index, 0u);
  EXPECT_EQ(skip, 3u);
  auto rest = iov_rest(iov, index, skip, 16, scratch);
  ASSERT_EQ(rest.size(), 3u);
  EXPECT_EQ(rest[0].iov_base, a + 3);
  EXPECT_EQ(rest[0].iov_len, 1u);
  // 3 more: the end of a, all of b, one byte of c.
  iov_advance(iov, index, skip, 3);
  EXPECT_EQ(index, 2u);
  EXPECT_EQ(skip, 1u);
  rest = iov_rest(iov, index, skip, 16, scratch);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].iov_base, c + 1);
  EXPECT_EQ(rest[0].iov_len, 5u);
  // Exactly to the end: past the last buffer, nothing left.
  iov_advance(iov, index, skip, 5);
  EXPECT_EQ(index, 3u);
  EXPECT_EQ(skip, 0u);
  EXPECT_TRUE(iov_rest(iov, index, skip, 16, scratch).empty());
}

TEST(IovUtil, TransferCountsAtMostWhatRemainsAndMovesTheFileOffset) {
  uint8_t a[4] = {1, 1, 1, 1}, b[2] = {1, 1};
  IovTransfer t;
  t.offset = 4096;
  t.iov = {{a, sizeof a}, {b, sizeof b}};
  t.remaining = 6;
  t.advance(5);  // a short transfer
  EXPECT_EQ(t.offset, 4096u + 5);
  EXPECT_EQ(t.remaining, 1u);
  EXPECT_EQ(t.index, 1u);
  EXPECT_EQ(t.skip, 1u);
  auto rest = t.rest(16);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].iov_base, b + 1);
  t.zero_rest();
  EXPECT_EQ(b[0], 1);
  EXPECT_EQ(b[1], 0);
  t.advance(100);  // more than asked for counts as what remained
  EXPECT_EQ(t.offset, 4096u + 6);
  EXPECT_EQ(t.remaining, 0u);
  EXPECT_TRUE(t.rest(16).empty());
}

TEST(IovUtil, ZeroRestFromAPosition) {
  uint8_t a[3] = {1, 1, 1}, b[2] = {1, 1};
  const std::vector<iovec> iov = {{a, sizeof a}, {b, sizeof b}};
  iov_zero_rest(iov, 0, 2);
  EXPECT_EQ(a[1], 1);
  EXPECT_EQ(a[2], 0);
  EXPECT_EQ(b[0], 0);
  EXPECT_EQ(b[1], 0);
}

TEST(IovUtil, RestLeavesOutEmptyBuffers) {
  uint8_t a[2], c[2];
  const std::vector<iovec> iov = {{a, 2}, {nullptr, 0}, {c, 2}};
  std::vector<iovec> scratch;
  size_t index = 0, skip = 0;
  iov_advance(iov, index, skip, 1);
  auto rest = iov_rest(iov, index, skip, 16, scratch);
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0].iov_base, a + 1);
  EXPECT_EQ(rest[1].iov_base, c);
}

}  // namespace
}  // namespace tandem
