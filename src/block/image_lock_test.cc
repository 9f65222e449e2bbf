#include "block/image_lock.h"

#include <gtest/gtest.h>

#include "block/raw_file.h"
#include "block/test_image.h"

namespace tandem {
namespace {

using testing::TempImage;

std::string open_error(const std::string& path, bool read_only) {
  try {
    open_raw_file(path, read_only, CacheMode::kWriteback);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ImageLock, SecondWriterIsRefused) {
  TempImage img(4096);
  RawFile first = open_raw_file(img.path(), false, CacheMode::kWriteback);
  std::string err = open_error(img.path(), false);
  EXPECT_NE(err.find("Failed to get \"write\" lock"), std::string::npos) << err;
  EXPECT_NE(err.find(img.path()), std::string::npos) << err;
  EXPECT_EQ(err.find('\n'), std::string::npos) << "one line";
}

TEST(ImageLock, ReaderIsRefusedWhileSomeoneWrites) {
  TempImage img(4096);
  RawFile writer = open_raw_file(img.path(), false, CacheMode::kWriteback);
  std::string err = open_error(img.path(), true);
  EXPECT_NE(err.find("Failed to get shared \"write\" lock"), std::string::npos) << err;
}

TEST(ImageLock, WriterIsRefusedWhileSomeoneReads) {
  TempImage img(4096);
  RawFile reader = open_raw_file(img.path(), true, CacheMode::kWriteback);
  std::string err = open_error(img.path(), false);
  EXPECT_NE(err.find("Failed to get \"write\" lock"), std::string::npos) << err;
}

TEST(ImageLock, ReadersShare) {
  TempImage img(4096);
  RawFile a = open_raw_file(img.path(), true, CacheMode::kWriteback);
  RawFile b = open_raw_file(img.path(), true, CacheMode::kWriteback);
  EXPECT_TRUE(a.fd.valid());
  EXPECT_TRUE(b.fd.valid());
}

TEST(ImageLock, LockGoesAwayWithTheFile) {
  TempImage img(4096);
  {
    RawFile first = open_raw_file(img.path(), false, CacheMode::kWriteback);
    EXPECT_FALSE(open_error(img.path(), false).empty());
  }
  EXPECT_EQ(open_error(img.path(), false), "");
  // A refused open left no locks behind either.
  RawFile reader = open_raw_file(img.path(), true, CacheMode::kWriteback);
  EXPECT_FALSE(open_error(img.path(), false).empty());
  reader.fd.reset();
  EXPECT_EQ(open_error(img.path(), false), "");
}

}  // namespace
}  // namespace tandem
