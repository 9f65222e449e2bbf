// tandem img commit and rebase against qemu-img 7.2: the same guest-visible result (read back
// by qemu-img), images qemu-img checks clean, and the same errors for bad requests.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>

#include "img/img_test_util.h"

namespace tandem::img {
namespace {

using namespace testing;

class ImgChain : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_QEMU_IMG();
    base_ = dir_.file("base.qcow2");
    mid_ = dir_.file("mid.qcow2");
    top_ = dir_.file("top.qcow2");
    must_run("qemu-img create -q -f qcow2 " + quote(base_) + " 4M");
    must_run("qemu-io -c 'write -P 0x11 0 1M' " + quote(base_));
    must_run("qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 " + quote(mid_));
    must_run("qemu-io -c 'write -P 0x33 2M 128k' -c 'write -z 0 64k' " + quote(mid_));
    must_run("qemu-img create -q -f qcow2 -o cluster_size=4k -b mid.qcow2 -F qcow2 " + quote(top_) +
             " 6M");
    must_run(
        "qemu-io -c 'write -P 0x22 512k 1M' -c 'write -c -P 0x44 5M 64k' -c "
        "'write -P 0x55 70k 3k' " +
        quote(top_));
  }
  std::vector<uint8_t> contents(const std::string& image) {
    return qcow2::testing::qemu_contents(dir_, image);
  }
  void expect_clean(const std::string& image) {
    auto check = qcow2::testing::qemu_check(image);
    EXPECT_EQ(check.status, 0) << image << ": " << check.output;
  }
  // Per 4 KiB guest cluster: the depth in the chain of the layer that holds it (-1: none).
  std::vector<int> depths(const std::string& image) {
    auto map = nlohmann::json::parse(must_run("qemu-img map --output=json " + quote(image)));
    std::vector<int> out;
    for (const auto& e : map) {
      int depth = e["present"].get<bool>() ? e["depth"].get<int>() : -1;
      out.insert(out.end(), e["length"].get<uint64_t>() / 4096, depth);
    }
    return out;
  }
  bool top_holds_anything(const std::string& image) {
    std::vector<int> d = depths(image);
    return std::find(d.begin(), d.end(), 0) != d.end();
  }

  ScratchDir dir_;
  std::string base_, mid_, top_;
};

TEST_F(ImgChain, CommitIntoTheBackingFileAndEmpty) {
  std::vector<uint8_t> top_view = contents(top_);
  Result r = run_img({"commit", top_});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "Image committed.\n");
  expect_clean(top_);
  expect_clean(mid_);
  EXPECT_EQ(contents(top_), top_view);
  // mid grew to the top's 6 MiB and holds what the top showed.
  EXPECT_EQ(contents(mid_), top_view);
  EXPECT_FALSE(top_holds_anything(top_));
  EXPECT_EQ(contents(mid_).size(), 6u << 20);
}

TEST_F(ImgChain, CommitDownToABaseWithB) {
  std::vector<uint8_t> top_view = contents(top_);
  Result r = run_img({"commit", "-q", "-b", base_, top_});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "");
  expect_clean(base_);
  EXPECT_EQ(contents(base_), top_view);
  EXPECT_EQ(contents(top_), top_view);  // -b implies -d: the top still holds its data
  EXPECT_TRUE(top_holds_anything(top_));
}

TEST_F(ImgChain, CommitErrors) {
  Result r = run_img({"commit", base_});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "tandem: Image does not have a backing file\n");
  r = run_img({"commit", "-b", dir_.file("nonexist"), top_});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "tandem: Did not find '" + dir_.file("nonexist") +
                       "' in the backing chain of '" + top_ + "'\n");
}

TEST_F(ImgChain, CommitIntoRaw) {
  std::string raw = dir_.file("base.raw"), over = dir_.file("over.qcow2");
  must_run("qemu-img create -q -f raw " + quote(raw) + " 1M");
  must_run("qemu-io -f raw -c 'write -P 0x61 0 1M' " + quote(raw));
  must_run("qemu-img create -q -f qcow2 -b base.raw -F raw " + quote(over));
  must_run("qemu-io -c 'write -P 0x62 100k 50k' -c 'write -z 300k 64k' " + quote(over));
  std::vector<uint8_t> view = contents(over);
  ASSERT_EQ(run_img({"commit", "-d", over}).status, 0);
  EXPECT_EQ(qcow2::testing::read_file(raw), view);
  EXPECT_EQ(contents(over), view);
}

TEST_F(ImgChain, SafeRebaseKeepsTheGuestViewLikeQemuImg) {
  std::string other = dir_.file("other.qcow2");
  must_run("qemu-img create -q -f qcow2 " + quote(other) + " 4M");
  must_run("qemu-io -c 'write -P 0x11 0 512k' -c 'write -P 0x77 3M 64k' " + quote(other));
  std::string theirs = dir_.file("theirs.qcow2");
  must_run("cp " + quote(top_) + " " + quote(theirs));
  std::vector<uint8_t> view = contents(top_);

  Result r = run_img({"rebase", "-b", "other.qcow2", "-F", "qcow2", top_});
  ASSERT_EQ(r.status, 0) << r.err;
  must_run("qemu-img rebase -b other.qcow2 -F qcow2 " + quote(theirs));
  expect_clean(top_);
  EXPECT_EQ(contents(top_), view);
  std::string info = must_run("qemu-img info " + quote(top_));
  EXPECT_NE(info.find("backing file: other.qcow2"), std::string::npos) << info;
  // The same clusters copied as qemu-img copies: which layer answers for each 4 KiB cluster.
  EXPECT_EQ(depths(top_), depths(theirs));

  // -b "": the image stands alone.
  ASSERT_EQ(run_img({"rebase", "-b", "", top_}).status, 0);
  expect_clean(top_);
  EXPECT_EQ(contents(top_), view);
  EXPECT_EQ(must_run("qemu-img info " + quote(top_)).find("backing file"), std::string::npos);
}

TEST_F(ImgChain, UnsafeRebaseOnlyChangesTheHeader) {
  std::vector<uint8_t> before = qcow2::testing::read_file(top_);
  ASSERT_EQ(run_img({"rebase", "-u", "-b", "gone.qcow2", "-F", "qcow2", top_}).status, 0);
  EXPECT_NE(run_command("qemu-img info " + quote(top_)).output.find("gone.qcow2"),
            std::string::npos);
  ASSERT_EQ(run_img({"rebase", "-u", "-b", "mid.qcow2", "-F", "qcow2", top_}).status, 0);
  std::vector<uint8_t> after = qcow2::testing::read_file(top_);
  ASSERT_EQ(before.size(), after.size());
  EXPECT_TRUE(std::equal(before.begin() + 65536, before.end(), after.begin() + 65536));
  expect_clean(top_);
}

TEST_F(ImgChain, RebaseErrorsAndLoops) {
  std::vector<uint8_t> file = qcow2::testing::read_file(top_);
  Result r = run_img({"rebase", top_});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "tandem: rebase: Must specify backing file (-b) or use unsafe mode (-u)\n");
  r = run_img({"rebase", "-b", "base.qcow2", top_});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err,
            "tandem: Could not change the backing file to 'base.qcow2': backing format must be "
            "specified\n");
  r = run_img({"rebase", "-b", "nonexist.qcow2", "-F", "qcow2", top_});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err.find("tandem: Could not open new backing file 'nonexist.qcow2': "), 0u) << r.err;
  for (bool unsafe : {false, true}) {
    Args args{"rebase", "-b", "top.qcow2", "-F", "qcow2", top_};
    if (unsafe) args.insert(args.begin() + 1, "-u");
    r = run_img(args);
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("would be in its own backing chain"), std::string::npos) << r.err;
    // base -> top would close a loop through mid.
    Args deep{"rebase", "-b", "top.qcow2", "-F", "qcow2", base_};
    if (unsafe) deep.insert(deep.begin() + 1, "-u");
    r = run_img(deep);
    EXPECT_EQ(r.status, 1) << r.err;
  }
  EXPECT_EQ(qcow2::testing::read_file(top_), file);
  expect_clean(base_);
  EXPECT_EQ(must_run("qemu-img info " + quote(base_)).find("backing file"), std::string::npos);
}

}  // namespace
}  // namespace tandem::img
