// tandem img snapshot and resize against qemu-img 7.2: the same listing, the same errors and
// exit statuses, and images that qemu-img checks clean and reads with the expected bytes.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include "img/img_test_util.h"

namespace tandem::img {
namespace {

using namespace testing;

class ImgSnapshot : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_QEMU_IMG();
    image_ = dir_.file("a.qcow2");
    must_run("qemu-img create -q -f qcow2 " + quote(image_) + " 4M");
    must_run("qemu-io -c 'write -P 0x11 0 192k' -c 'write -c -P 0x12 1M 64k' " + quote(image_));
  }
  std::vector<uint8_t> contents(const std::string& extra = "") {
    return qcow2::testing::qemu_contents(dir_, image_, extra);
  }
  void expect_clean() {
    auto check = qcow2::testing::qemu_check(image_);
    EXPECT_EQ(check.status, 0) << check.output;
  }

  ScratchDir dir_;
  std::string image_;
};

TEST_F(ImgSnapshot, CreateListApplyDeleteAsQemuImgSeesThem) {
  std::vector<uint8_t> first = contents();
  Result r = run_img({"snapshot", "-c", "first", image_});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "");
  must_run("qemu-io -c 'write -P 0x21 64k 256k' " + quote(image_));
  std::vector<uint8_t> second = contents();
  ASSERT_EQ(run_img({"snapshot", "-c", "second", image_}).status, 0);
  expect_clean();

  // The same table as qemu-img prints (dates in the same local time).
  Result ours = run_img({"snapshot", "-l", image_});
  Result theirs = run_qemu("qemu-img snapshot -l " + quote(image_));
  EXPECT_EQ(ours.status, 0);
  EXPECT_EQ(ours.out, theirs.out);
  EXPECT_NE(ours.out.find("Snapshot list:\nID        TAG"), std::string::npos) << ours.out;
  EXPECT_EQ(count_lines(ours.out), 4u);
  EXPECT_EQ(contents("-l snapshot.name=first"), first);

  must_run("qemu-io -c 'write -P 0x31 0 4M' " + quote(image_));
  r = run_img({"snapshot", "-a", "first", image_});
  ASSERT_EQ(r.status, 0) << r.err;
  expect_clean();
  EXPECT_EQ(contents(), first);
  ASSERT_EQ(run_img({"snapshot", "-a", "2", image_}).status, 0);  // by ID
  EXPECT_EQ(contents(), second);
  ASSERT_EQ(run_img({"snapshot", "-d", "first", image_}).status, 0);
  expect_clean();
  EXPECT_EQ(contents("-l snapshot.name=second"), second);
  EXPECT_EQ(run_qemu("qemu-img snapshot -l " + quote(image_)).out,
            run_img({"snapshot", "-l", image_}).out);
  ASSERT_EQ(run_img({"snapshot", "-d", "second", image_}).status, 0);
  expect_clean();
  EXPECT_EQ(run_img({"snapshot", "-l", image_}).out, "");
}

TEST_F(ImgSnapshot, QemuImgSnapshotsAreListedAppliedAndDeleted) {
  std::vector<uint8_t> before = contents();
  must_run("qemu-img snapshot -c qsnap " + quote(image_));
  must_run("qemu-io -c 'write -P 0x41 0 1M' " + quote(image_));
  must_run("qemu-img snapshot -c later " + quote(image_));
  EXPECT_EQ(run_img({"snapshot", "-l", image_}).out,
            run_qemu("qemu-img snapshot -l " + quote(image_)).out);
  ASSERT_EQ(run_img({"snapshot", "-a", "qsnap", image_}).status, 0);
  EXPECT_EQ(contents(), before);
  ASSERT_EQ(run_img({"snapshot", "-d", "qsnap", image_}).status, 0);
  ASSERT_EQ(run_img({"snapshot", "-d", "later", image_}).status, 0);
  expect_clean();
  EXPECT_EQ(contents(), before);
  EXPECT_EQ(run_qemu("qemu-img snapshot -l " + quote(image_)).out, "");
}

TEST_F(ImgSnapshot, BadRequestsFailAndLeaveTheImageAlone) {
  ASSERT_EQ(run_img({"snapshot", "-c", "s", image_}).status, 0);
  std::vector<uint8_t> file = qcow2::testing::read_file(image_);

  Result r = run_img({"snapshot", "-a", "nope", image_});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err,
            "tandem: Could not apply snapshot 'nope': Failed to load snapshot: No such file or "
            "directory\n");
  r = run_img({"snapshot", "-d", "nope", image_});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "tandem: Could not delete snapshot 'nope': snapshot not found\n");
  r = run_img({"snapshot", "-d", "1", image_});  // -d takes names only, as qemu-img
  EXPECT_EQ(r.status, 1);
  r = run_img({"snapshot", "-c", "s", image_});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("Could not create snapshot 's': a snapshot named 's' already exists"),
            std::string::npos)
      << r.err;
  r = run_img({"snapshot", "-l", "-c", "x", image_});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("Cannot mix '-l', '-a', '-c', '-d'"), std::string::npos) << r.err;
  EXPECT_EQ(run_img({"snapshot", "-l", dir_.file("missing.qcow2")}).status, 1);
  EXPECT_EQ(qcow2::testing::read_file(image_), file);

  std::string raw = dir_.file("r.img");
  must_run("qemu-img create -q -f raw " + quote(raw) + " 1M");
  EXPECT_EQ(run_img({"snapshot", "-l", raw}).out, "");
  r = run_img({"snapshot", "-c", "x", raw});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "tandem: Could not create snapshot 'x': -95 (Operation not supported)\n");
}

class ImgResize : public ImgSnapshot {};

TEST_F(ImgResize, GrowAndShrinkQcow2AsQemuImgDoes) {
  std::vector<uint8_t> before = contents();
  Result r = run_img({"resize", image_, "+1M"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "Image resized.\n");
  expect_clean();
  std::vector<uint8_t> grown = contents();
  ASSERT_EQ(grown.size(), 5u << 20);
  EXPECT_TRUE(std::equal(before.begin(), before.end(), grown.begin()));

  r = run_img({"resize", image_, "1M"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err,
            "tandem: Use the --shrink option to perform a shrink operation.\n"
            "tandem: warning: Shrinking an image will delete all data beyond the shrunken "
            "image's end. Before performing such an operation, make sure there is no important "
            "data there.\n");
  EXPECT_EQ(contents().size(), 5u << 20);
  r = run_img({"resize", "-q", "--shrink", image_, "-4M"});  // a negative size is no option
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "");
  expect_clean();
  EXPECT_EQ(contents(), std::vector<uint8_t>(before.begin(), before.begin() + (1 << 20)));
  EXPECT_EQ(run_qemu("qemu-img info " + quote(image_)).out.find("virtual size: 1 MiB"),
            run_qemu("qemu-img info " + quote(image_)).out.find("virtual size:"));
}

TEST_F(ImgResize, BadSizesAndRaw) {
  Result r = run_img({"resize", image_, "+1000"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "tandem: The new size must be a multiple of 512\n");
  r = run_img({"resize", image_, "-4M"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "tandem: New image size must be positive\n");
  r = run_img({"resize", image_, "12Q"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err.find("tandem: Parameter 'size' expects a non-negative number below 2^64\n"), 0u)
      << r.err;
  EXPECT_EQ(run_img({"resize", image_}).status, 1);
  expect_clean();

  std::string raw = dir_.file("r.img");
  must_run("qemu-img create -q -f raw " + quote(raw) + " 1M");
  ASSERT_EQ(run_img({"resize", "-f", "raw", raw, "+1000"}).status, 0);
  struct stat st;
  ASSERT_EQ(::stat(raw.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, (1 << 20) + 1000);
  EXPECT_EQ(run_img({"resize", "-f", "raw", raw, "1000"}).status, 1);
  ASSERT_EQ(run_img({"resize", "-f", "raw", "--shrink", raw, "1000"}).status, 0);
  ASSERT_EQ(::stat(raw.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 1000);
  r = run_img({"resize", "-f", "qcow2", raw, "2M"});
  EXPECT_EQ(r.status, 1);
}

}  // namespace
}  // namespace tandem::img
