// tandem img info against qemu-img info on the same images: the JSON must be equal key for key,
// the human output line for line.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "img/img_test_util.h"

namespace tandem::img {
namespace {

using namespace testing;

class ImgInfo : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_QEMU_IMG();
    auto q = [&](const std::string& cmd) { must_run("cd " + quote(dir_.file("")) + " && " + cmd); };
    q("qemu-img create -q -f qcow2 v3.qcow2 1G");
    q("qemu-img create -q -f qcow2 -o compat=0.10 v2.qcow2 100M");
    q("qemu-img create -q -f qcow2 -o compression_type=zstd,cluster_size=4096 zstd.qcow2 64M");
    q("qemu-img create -q -f qcow2 -o lazy_refcounts=on,refcount_bits=8 lazy.qcow2 10M");
    q("qemu-img create -q -f raw raw.img 10M");
    q("qemu-img create -q -f qcow2 -b v3.qcow2 -F qcow2 top.qcow2");
    q("qemu-io -c 'write -P 7 0 1M' -c 'write -z 2M 64k' top.qcow2");
    q("qemu-img create -q -f qcow2 -b raw.img -F raw overraw.qcow2 20M");
    q("mkdir sub && qemu-img create -q -f qcow2 -b ../v3.qcow2 -F qcow2 sub/rel.qcow2");
    q("qemu-img create -q -f qcow2 snap.qcow2 16M && qemu-io -c 'write 0 64k' snap.qcow2");
    q("qemu-img snapshot -c first snap.qcow2 && qemu-img snapshot -c 'second one' snap.qcow2");
    // The extended L2 feature Tandem cannot use: info still describes it.
    q("qemu-img create -q -f qcow2 -o extended_l2=on ext.qcow2 10M");
  }

  std::vector<std::string> images() const {
    std::vector<std::string> out;
    for (const char* name :
         {"v3.qcow2", "v2.qcow2", "zstd.qcow2", "lazy.qcow2", "raw.img", "top.qcow2",
          "overraw.qcow2", "sub/rel.qcow2", "snap.qcow2", "ext.qcow2"}) {
      out.push_back(dir_.file(name));
    }
    return out;
  }

  ScratchDir dir_;
};

TEST_F(ImgInfo, JsonEqualsQemuImg) {
  for (const std::string& path : images()) {
    SCOPED_TRACE(path);
    Result r = run_img({"info", "--output=json", path});
    ASSERT_EQ(r.status, 0) << r.err;
    auto ours = nlohmann::json::parse(r.out);
    auto theirs = nlohmann::json::parse(must_run("qemu-img info -U --output=json " + quote(path)));
    EXPECT_EQ(ours, theirs) << "ours:\n" << ours.dump(4) << "\ntheirs:\n" << theirs.dump(4);
    // Same key order as qemu-img prints.
    EXPECT_EQ(r.out, must_run("qemu-img info -U --output=json " + quote(path)));
  }
}

TEST_F(ImgInfo, HumanOutputEqualsQemuImg) {
  for (const std::string& path : images()) {
    SCOPED_TRACE(path);
    Result r = run_img({"info", path});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, must_run("qemu-img info -U " + quote(path)));
  }
}

TEST_F(ImgInfo, BackingChainEqualsQemuImg) {
  for (const char* name : {"top.qcow2", "sub/rel.qcow2", "overraw.qcow2"}) {
    std::string path = dir_.file(name);
    SCOPED_TRACE(path);
    Result r = run_img({"info", "--backing-chain", "--output", "json", path});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out),
              nlohmann::json::parse(
                  must_run("qemu-img info -U --backing-chain --output=json " + quote(path))));
    r = run_img({"info", "--backing-chain", path});
    EXPECT_EQ(r.out, must_run("qemu-img info -U --backing-chain " + quote(path)));
  }
}

TEST_F(ImgInfo, ErrorsAreOneLine) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"info", dir_.file("missing.qcow2")},
        {"info", "-f", "qcow2", dir_.file("raw.img")},
        {"info", "--output=xml", dir_.file("v3.qcow2")},
        {"info", dir_.file("")},
        {"info"}}) {
    Result r = run_img(args);
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(count_lines(r.err), 1u) << r.err;
  }
  // A truncated qcow2 header.
  must_run("head -c 50 " + quote(dir_.file("v3.qcow2")) + " > " + quote(dir_.file("cut.qcow2")));
  Result r = run_img({"info", dir_.file("cut.qcow2")});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("shorter than the header"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace tandem::img
