#include "block/open_drive.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/event_loop.h"
#include "block/raw_driver.h"
#include "block/test_image.h"

namespace tandem {
namespace {

using testing::TempImage;

std::string error_of(const DriveConfig& drive) {
  EventLoop loop;
  try {
    open_block_driver(drive, loop);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

DriveConfig drive_for(const std::string& file) {
  DriveConfig d;
  d.id = "drive0";
  d.file = file;
  return d;
}

TEST(OpenDrive, OpensWithTheDrivesOptions) {
  TempImage img(8192);
  EventLoop loop;
  DriveConfig drive = drive_for(img.path());
  drive.readonly = true;
  drive.cache = "none";
  drive.aio = "threads";
  auto d = open_block_driver(drive, loop);
  EXPECT_EQ(d->size(), 8192u);
  EXPECT_TRUE(d->read_only());
  EXPECT_EQ(d->filename(), img.path());
  auto* raw = dynamic_cast<RawDriver*>(d.get());
  ASSERT_NE(raw, nullptr);
  EXPECT_STREQ(raw->aio_name(), "threads");
  EXPECT_EQ(raw->cache_mode(), CacheMode::kNone);
}

TEST(OpenDrive, MissingFile) {
  std::string err = error_of(drive_for("/nonexistent/disk.img"));
  EXPECT_NE(err.find("/nonexistent/disk.img"), std::string::npos) << err;
  EXPECT_NE(err.find("No such file or directory"), std::string::npos) << err;
}

TEST(OpenDrive, Directory) {
  for (bool ro : {false, true}) {
    DriveConfig drive = drive_for("/tmp");
    drive.readonly = ro;
    std::string err = error_of(drive);
    EXPECT_NE(err.find("'/tmp' is a directory"), std::string::npos) << err;
  }
}

TEST(OpenDrive, BadOptionValues) {
  TempImage img(4096);
  DriveConfig drive = drive_for(img.path());
  drive.cache = "sometimes";
  EXPECT_EQ(error_of(drive),
            "invalid cache mode 'sometimes' (expected writeback, writethrough, none, directsync "
            "or unsafe)");
  drive = drive_for(img.path());
  drive.aio = "native";
  EXPECT_EQ(error_of(drive), "invalid aio mode 'native' (expected io_uring or threads)");
  drive = drive_for(img.path());
  drive.format = "vmdk";
  EXPECT_EQ(error_of(drive),
            "drive 'drive0': unsupported image format 'vmdk' (supported: raw, qcow2)");
  EXPECT_EQ(error_of(drive_for("")), "drive 'drive0': no image file given (file=...)");
}

TEST(OpenDrive, NeitherFileNorBlockDevice) {
  std::string err = error_of(drive_for("/dev/null"));
  EXPECT_NE(err.find("neither a regular file nor a block device"), std::string::npos) << err;
  // A FIFO is refused at once instead of blocking the open, with the format given or probed.
  const std::string fifo = "/tmp/tandem-open-drive-fifo-" + std::to_string(::getpid());
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (const char* format : {"", "raw", "qcow2"}) {
    DriveConfig drive = drive_for(fifo);
    drive.format = format;
    err = error_of(drive);
    EXPECT_NE(err.find("neither a regular file nor a block device"), std::string::npos)
        << format << ": " << err;
  }
  ::unlink(fifo.c_str());
}

TEST(OpenDrive, SecondWriterGetsAClearError) {
  TempImage img(4096);
  EventLoop loop;
  auto first = open_block_driver(drive_for(img.path()), loop);
  std::string err = error_of(drive_for(img.path()));
  EXPECT_EQ(err, "Failed to get \"write\" lock: is another process using the image [" + img.path() +
                     "]?");
}

}  // namespace
}  // namespace tandem
