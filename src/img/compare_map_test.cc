// tandem img compare and map against qemu-img's answers on the same images.
#include <gtest/gtest.h>

#include "img/img_test_util.h"

namespace tandem::img {
namespace {

using namespace testing;

class ImgCompareMap : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_QEMU_IMG();
    q("qemu-img create -q -f raw base.raw 8M");
    q("qemu-io -f raw -c 'write -P 0x11 1M 512k' base.raw");
    q("qemu-img create -q -f qcow2 -b base.raw -F raw top.qcow2 12M");
    q("qemu-io -c 'write -P 0x31 0 100k' -c 'write -z 1100k 64k' -c 'write -P 0x32 9M 64k' "
      "top.qcow2");
    q("qemu-img convert -O raw top.qcow2 flat.raw");
    q("qemu-img convert -O qcow2 top.qcow2 flat.qcow2");
    q("cp flat.raw diff.raw && qemu-io -f raw -c 'write -P 0x99 5000000 1' diff.raw");
    q("qemu-img create -q -f raw longer.raw 13M && dd if=flat.raw of=longer.raw conv=notrunc "
      "status=none");
    q("cp longer.raw longer-dirty.raw && qemu-io -f raw -c 'write -P 1 12800000 1' "
      "longer-dirty.raw");
    q("qemu-img create -q -f qcow2 packed.qcow2 4M && qemu-io -c 'write -c -P 5 0 64k' "
      "-c 'write -P 6 1M 64k' packed.qcow2");
    q("qemu-img create -q -f qcow2 empty.qcow2 12M");
  }
  void q(const std::string& cmd) { must_run("cd " + quote(dir_.file("")) + " && " + cmd); }
  std::string f(const std::string& name) const { return dir_.file(name); }

  ScratchDir dir_;
};

TEST_F(ImgCompareMap, CompareAnswersAsQemuImg) {
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"top.qcow2", "flat.raw"},   {"flat.raw", "top.qcow2"},
      {"top.qcow2", "flat.qcow2"}, {"top.qcow2", "diff.raw"},
      {"flat.raw", "longer.raw"},  {"top.qcow2", "longer-dirty.raw"},
      {"empty.qcow2", "base.raw"}, {"packed.qcow2", "packed.qcow2"},
  };
  for (const auto& [a, b] : pairs) {
    for (bool strict : {false, true}) {
      SCOPED_TRACE(a + " " + b + (strict ? " -s" : ""));
      std::vector<std::string> args = {"compare"};
      if (strict) args.push_back("-s");
      args.push_back(f(a));
      args.push_back(f(b));
      Result r = run_img(args);
      Result theirs = run_qemu(std::string("qemu-img compare ") + (strict ? "-s " : "") +
                               quote(f(a)) + " " + quote(f(b)));
      EXPECT_EQ(r.status, theirs.status) << r.out << r.err;
      EXPECT_EQ(r.out, theirs.out);
    }
  }
  Result r = run_img({"compare", f("top.qcow2"), f("missing.raw")});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(count_lines(r.err), 1u);
  r = run_img({"compare", "-f", "qcow2", f("flat.raw"), f("top.qcow2")});
  EXPECT_EQ(r.status, 2);
}

TEST_F(ImgCompareMap, MapJsonEqualsQemuImg) {
  for (const char* name :
       {"top.qcow2", "flat.qcow2", "packed.qcow2", "empty.qcow2", "base.raw", "flat.raw"}) {
    SCOPED_TRACE(name);
    Result r = run_img({"map", "--output=json", f(name)});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, must_run("qemu-img map --output=json " + quote(f(name))));
  }
  Result r =
      run_img({"map", "--output=json", "--start-offset=1M", "--max-length=2M", f("top.qcow2")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, must_run("qemu-img map --output=json --start-offset=1M --max-length=2M " +
                            quote(f("top.qcow2"))));
}

TEST_F(ImgCompareMap, MapHumanEqualsQemuImg) {
  for (const char* name : {"top.qcow2", "flat.qcow2", "empty.qcow2", "base.raw"}) {
    SCOPED_TRACE(name);
    Result r = run_img({"map", f(name)});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, must_run("qemu-img map " + quote(f(name))));
  }
  // Compressed clusters have no offset to show.
  Result r = run_img({"map", f("packed.qcow2")});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("compressed clusters"), std::string::npos) << r.err;
  r = run_img({"map", "--output=yaml", f("top.qcow2")});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(count_lines(r.err), 1u);
}

}  // namespace
}  // namespace tandem::img
