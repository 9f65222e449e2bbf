#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "base/error.h"
#include "base/mapping.h"
#include "base/unique_fd.h"

namespace tandem {
namespace {

TEST(UniqueFd, ClosesOnDestruction) {
  int raw;
  {
    UniqueFd fd = open_or_throw("/dev/null", O_RDONLY);
    raw = fd.get();
    ASSERT_GE(raw, 0);
    EXPECT_EQ(fcntl(raw, F_GETFD), FD_CLOEXEC);
  }
  EXPECT_EQ(fcntl(raw, F_GETFD), -1);
}

TEST(UniqueFd, MoveTransfersOwnership) {
  UniqueFd a = open_or_throw("/dev/null", O_RDONLY);
  int raw = a.get();
  UniqueFd b = std::move(a);
  EXPECT_FALSE(a.valid());
  EXPECT_EQ(b.get(), raw);
  b = UniqueFd();
  EXPECT_EQ(fcntl(raw, F_GETFD), -1);
}

TEST(UniqueFd, OpenMissingFileNamesPath) {
  try {
    open_or_throw("/nonexistent/tandem-file", O_RDONLY);
    FAIL() << "expected an error";
  } catch (const SystemError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/tandem-file"), std::string::npos);
    EXPECT_EQ(e.code(), ENOENT);
  }
}

TEST(Mapping, AnonymousIsZeroedAndWritable) {
  Mapping m = Mapping::anonymous(1 << 20);
  ASSERT_TRUE(m.valid());
  EXPECT_EQ(m.data()[12345], 0);
  m.data()[12345] = 7;
  EXPECT_EQ(m.data()[12345], 7);
  Mapping moved = std::move(m);
  EXPECT_FALSE(m.valid());
  EXPECT_EQ(moved.data()[12345], 7);
}

TEST(Mapping, HugeRequestFailsWithError) {
  EXPECT_THROW(Mapping::anonymous(uint64_t{1} << 62), SystemError);
}

TEST(Error, FailFormats) {
  try {
    fail("bad value {} for {}", 42, "x");
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "bad value 42 for x");
  }
}

}  // namespace
}  // namespace tandem
