// Qcow2Driver as a BlockDriver (completions on the loop, never inline), and open_block_driver
// choosing or probing the format.
#include "block/qcow2/qcow2_driver.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "base/event_loop.h"
#include "block/open_drive.h"
#include "block/qcow2/format_probe.h"
#include "block/qcow2/qemu_tools.h"
#include "block/raw_driver.h"
#include "block/test_image.h"

namespace tandem {
namespace {

using qcow2::testing::must_run;
using qcow2::testing::ScratchDir;

class Qcow2DriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_QEMU_IMG();
    img_ = dir_.file("disk.qcow2");
    must_run("qemu-img create -q -f qcow2 " + img_ + " 1M");
    must_run("qemu-io -f qcow2 -c 'write -P 0x5a 0 64k' " + img_);
  }
  std::unique_ptr<Qcow2Driver> open(bool read_only = false) {
    Qcow2Driver::Options o;
    o.read_only = read_only;
    return Qcow2Driver::open(img_, o, loop_);
  }
  // Issues `start(done)`, checks the callback does not run inside it, waits for it.
  int run(BlockDriver& d, const std::function<void(BlockCallback)>& start) {
    int result = 1;
    bool called = false;
    start([&](int r) {
      called = true;
      result = r;
    });
    EXPECT_FALSE(called) << "callback ran inside the call";
    EXPECT_EQ(d.in_flight(), 1u);
    EXPECT_TRUE(testing::wait_idle(loop_, d));
    EXPECT_TRUE(called);
    return result;
  }

  ScratchDir dir_;
  std::string img_;
  EventLoop loop_;
};

TEST_F(Qcow2DriverTest, RequestsCompleteOnTheLoop) {
  auto d = open();
  EXPECT_EQ(d->size(), 1u << 20);
  EXPECT_FALSE(d->read_only());
  EXPECT_TRUE(d->write_cache());
  EXPECT_EQ(d->filename(), img_);
  std::vector<uint8_t> buf(8192, 0);
  iovec v{buf.data(), buf.size()};
  EXPECT_EQ(run(*d, [&](BlockCallback cb) { d->read(60 << 10, {&v, 1}, cb); }), 0);
  EXPECT_EQ(buf[0], 0x5a);
  EXPECT_EQ(buf[4096], 0);
  std::fill(buf.begin(), buf.end(), 0x77);
  EXPECT_EQ(run(*d, [&](BlockCallback cb) { d->write(100 << 10, {&v, 1}, cb); }), 0);
  EXPECT_EQ(run(*d, [&](BlockCallback cb) { d->write_zeroes(0, 4096, true, cb); }), 0);
  EXPECT_EQ(run(*d, [&](BlockCallback cb) { d->discard(512 << 10, 128 << 10, cb); }), 0);
  EXPECT_EQ(run(*d, [&](BlockCallback cb) { d->flush(cb); }), 0);
  EXPECT_EQ(run(*d, [&](BlockCallback cb) { d->read((1 << 20) - 4096, {&v, 1}, cb); }), -EINVAL);
  EXPECT_EQ(run(*d, [&](BlockCallback cb) { d->discard(1 << 20, 512, cb); }), -EINVAL);
  d.reset();
  std::vector<uint8_t> qemu = qcow2::testing::qemu_contents(dir_, img_);
  EXPECT_EQ(qemu[0], 0);
  EXPECT_EQ(qemu[5000], 0x5a);
  EXPECT_EQ(qemu[(100 << 10) + 8191], 0x77);
  EXPECT_EQ(qcow2::testing::qemu_check(img_).status, 0);
}

TEST_F(Qcow2DriverTest, ReadOnly) {
  auto d = open(true);
  EXPECT_TRUE(d->read_only());
  std::vector<uint8_t> buf(512);
  iovec v{buf.data(), buf.size()};
  EXPECT_EQ(run(*d, [&](BlockCallback cb) { d->write(0, {&v, 1}, cb); }), -EROFS);
  EXPECT_EQ(run(*d, [&](BlockCallback cb) { d->write_zeroes(0, 512, false, cb); }), -EROFS);
  EXPECT_EQ(run(*d, [&](BlockCallback cb) { d->discard(0, 512, cb); }), -EROFS);
  EXPECT_EQ(run(*d, [&](BlockCallback cb) { d->flush(cb); }), 0);
  // A read-only user shares the image with another reader.
  auto second = open(true);
  EXPECT_EQ(run(*second, [&](BlockCallback cb) { second->read(0, {&v, 1}, cb); }), 0);
  EXPECT_EQ(buf[0], 0x5a);
}

TEST_F(Qcow2DriverTest, TheImageIsLocked) {
  auto d = open();
  try {
    open();
    FAIL() << "a second writer opened the image";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Failed to get \"write\" lock"), std::string::npos)
        << e.what();
  }
}

TEST_F(Qcow2DriverTest, CancelFromAnotherThreadAndDestroyWithCallbacksPending) {
  auto d = open();
  std::vector<uint8_t> buf(64 << 10, 1);
  iovec v{buf.data(), buf.size()};
  std::atomic<int> done{0};
  std::thread writer([&] {
    for (int i = 0; i < 50; ++i) d->write((i % 16) * buf.size(), {&v, 1}, [&](int) { ++done; });
  });
  d->cancel_all();
  writer.join();
  d->cancel_all();
  EXPECT_EQ(d->in_flight(), 50u);
  ASSERT_TRUE(testing::wait_idle(loop_, *d));
  EXPECT_EQ(done.load(), 50);
  // Posted callbacks of a destroyed driver are dropped.
  d->flush([&](int) { ++done; });
  d.reset();
  loop_.run_once(10);
  EXPECT_EQ(done.load(), 50);
}

DriveConfig drive(const std::string& file, const std::string& format) {
  DriveConfig d;
  d.id = "drive0";
  d.file = file;
  d.format = format;
  return d;
}

TEST_F(Qcow2DriverTest, OpenDriveChoosesAndProbesTheFormat) {
  auto explicit_qcow2 = open_block_driver(drive(img_, "qcow2"), loop_);
  EXPECT_NE(dynamic_cast<Qcow2Driver*>(explicit_qcow2.get()), nullptr);
  explicit_qcow2.reset();

  ::testing::internal::CaptureStderr();
  auto probed = open_block_driver(drive(img_, ""), loop_);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  EXPECT_NE(dynamic_cast<Qcow2Driver*>(probed.get()), nullptr);
  EXPECT_EQ(probed->size(), 1u << 20);
  probed.reset();

  testing::TempImage raw(4096);
  ::testing::internal::CaptureStderr();
  auto probed_raw = open_block_driver(drive(raw.path(), ""), loop_);
  std::string warning = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(dynamic_cast<RawDriver*>(probed_raw.get()), nullptr);
  EXPECT_NE(warning.find("WARNING: Image format was not specified for '" + raw.path() +
                         "' and probing guessed raw."),
            std::string::npos)
      << warning;
  probed_raw.reset();

  // A qcow2 image opened as raw is what the user asked for: its bytes, header included.
  auto as_raw = open_block_driver(drive(img_, "raw"), loop_);
  EXPECT_NE(dynamic_cast<RawDriver*>(as_raw.get()), nullptr);
  as_raw.reset();

  std::string vmdk = dir_.file("disk.vmdk");
  must_run("qemu-img create -q -f vmdk " + vmdk + " 1M");
  EXPECT_EQ(probe_image_format(vmdk), "vmdk");
  try {
    open_block_driver(drive(vmdk, ""), loop_);
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "drive 'drive0': unsupported image format 'vmdk' (supported: raw, qcow2)");
  }
  try {
    open_block_driver(drive(raw.path(), "qcow2"), loop_);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "'" + raw.path() + "' is not a qcow2 image (no QFI\\xfb magic)");
  }
}

}  // namespace
}  // namespace tandem
