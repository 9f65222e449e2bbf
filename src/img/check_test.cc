// tandem img check against qemu-img check on clean and deliberately damaged images: the same
// report (stdout and stderr), the same exit status, and repairs that leave qemu-img satisfied.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "img/img_test_util.h"

namespace tandem::img {
namespace {

using namespace testing;
using qcow2::testing::file_be64;
using qcow2::testing::qemu_check;

// Sets the 16-bit refcount of `cluster` (covered by the first refcount block).
void set_refcount(const std::string& path, uint64_t cluster, uint16_t value) {
  uint64_t table = file_be64(path, 48);
  uint64_t block = file_be64(path, table);
  std::vector<uint8_t> b(2);
  qcow2::store_be16(b.data(), value);
  qcow2::testing::patch_file(path, block + cluster * 2, b);
}

class ImgCheck : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_QEMU_IMG();
    image_ = dir_.file("a.qcow2");
    ASSERT_EQ(run_img({"create", "-q", "-f", "qcow2", image_, "24M"}).status, 0);
    must_run("qemu-io -c 'write -P 1 0 192k' -c 'write -P 2 10M 64k' -c 'write -c -P 3 20M 64k' " +
             quote(image_));
    auto map = nlohmann::json::parse(must_run("qemu-img map --output=json " + quote(image_)));
    data_offset_ = map[0]["offset"];
  }
  std::vector<uint8_t> contents(const std::string& path) {
    return qcow2::testing::qemu_contents(dir_, path);
  }

  // Runs our check and qemu-img's (each on its own copy when repairing) and expects the same
  // report and status.
  void expect_same(const std::vector<std::string>& options, const std::string& image) {
    std::string ours = image, theirs = image;
    if (!options.empty() && options[0] == "-r") {
      ours = dir_.file("ours.qcow2");
      theirs = dir_.file("theirs.qcow2");
      must_run("cp " + quote(image) + " " + quote(ours) + " && cp " + quote(image) + " " +
               quote(theirs));
    }
    std::vector<std::string> args = {"check"};
    args.insert(args.end(), options.begin(), options.end());
    args.push_back(ours);
    Result r = run_img(args);
    std::string qemu = "qemu-img check";
    for (const auto& o : options) qemu += " " + o;
    Result q = run_qemu(qemu + " " + quote(theirs));
    auto strip = [](std::string s, const std::string& path) {
      for (size_t p; (p = s.find(path)) != std::string::npos;) s.replace(p, path.size(), "IMG");
      return s;
    };
    EXPECT_EQ(r.status, q.status) << r.out << r.err;
    EXPECT_EQ(strip(r.out, ours), strip(q.out, theirs));
    std::string qemu_err = q.err;
    if (size_t p = qemu_err.find("qemu-img: "); p != std::string::npos) {
      qemu_err.replace(p, 10, "tandem: ");
    }
    EXPECT_EQ(r.err.substr(0, qemu_err.size()), qemu_err);
  }

  ScratchDir dir_;
  std::string image_;
  uint64_t data_offset_ = 0;
};

TEST_F(ImgCheck, CleanImage) {
  Result r = run_img({"check", image_});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out.rfind("No errors were found on the image.\n", 0), 0u) << r.out;
  expect_same({}, image_);
  expect_same({"--output=json"}, image_);
}

TEST_F(ImgCheck, FragmentationAsQemuCountsIt) {
  // 4 KiB clusters (an L2 table maps 2 MiB): data across L2 tables, written out of order.
  std::string small = dir_.file("frag.qcow2");
  ASSERT_EQ(run_img({"create", "-q", "-f", "qcow2", "-o", "cluster_size=4k", small, "16M"}).status,
            0);
  must_run(
      "qemu-io -c 'write -P 1 6M 12k' -c 'write -P 2 1M 3M' -c 'write -P 3 8k 4k' "
      "-c 'write -P 4 0 4k' -c 'write -c -P 5 9M 8k' " +
      quote(small));
  expect_same({}, small);
  expect_same({"--output=json"}, small);
}

TEST_F(ImgCheck, LeaksAndRefcountTooHigh) {
  // Two clusters past the end with refcount 1, and a data cluster counted twice.
  uint64_t size = (std::filesystem::file_size(image_) + 65535) / 65536 * 65536;
  must_run("truncate -s " + std::to_string(size + 2 * 65536) + " " + quote(image_));
  set_refcount(image_, size / 65536, 1);
  set_refcount(image_, size / 65536 + 1, 1);
  set_refcount(image_, data_offset_ / 65536, 2);
  expect_same({}, image_);
  expect_same({"--output=json"}, image_);
  Result r = run_img({"check", image_});
  EXPECT_EQ(r.status, 2);  // the COPIED flag of the twice-counted cluster is wrong
  EXPECT_NE(r.out.find("3 leaked clusters were found on the image."), std::string::npos);
  EXPECT_NE(r.err.find("Leaked cluster " + std::to_string(size / 65536) +
                       " refcount=1 "
                       "reference=0"),
            std::string::npos);

  std::vector<uint8_t> before = contents(image_);
  expect_same({"-r", "leaks"}, image_);
  EXPECT_EQ(qemu_check(dir_.file("ours.qcow2")).status, 0);
  expect_same({"-r", "all"}, image_);
  EXPECT_EQ(qemu_check(dir_.file("ours.qcow2")).status, 0);
  EXPECT_EQ(contents(dir_.file("ours.qcow2")), before);
}

TEST_F(ImgCheck, OnlyLeaksExitThree) {
  uint64_t size = (std::filesystem::file_size(image_) + 65535) / 65536 * 65536;
  must_run("truncate -s " + std::to_string(size + 65536) + " " + quote(image_));
  set_refcount(image_, size / 65536, 1);
  Result r = run_img({"check", image_});
  EXPECT_EQ(r.status, 3);
  expect_same({}, image_);
  r = run_img({"check", "-r", "leaks", image_});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("The following inconsistencies were found and repaired:\n\n"
                       "    1 leaked clusters\n    0 corruptions\n\n"
                       "Double checking the fixed image now...\nNo errors were found"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(qemu_check(image_).status, 0) << qemu_check(image_).output;
}

TEST_F(ImgCheck, RefcountZeroNeedsARebuild) {
  std::vector<uint8_t> before = contents(image_);
  set_refcount(image_, data_offset_ / 65536, 0);
  expect_same({}, image_);
  expect_same({"-r", "leaks"}, image_);  // refuses: the refcount structure must be rebuilt
  Result r = run_img({"check", "-r", "all", image_});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("Rebuilding refcount structure"), std::string::npos) << r.err;
  auto check = qemu_check(image_);
  EXPECT_EQ(check.status, 0) << check.output;
  EXPECT_EQ(contents(image_), before);
}

TEST_F(ImgCheck, CopiedFlagOfAnL2Table) {
  uint64_t l1 = file_be64(image_, 40);
  uint64_t entry = file_be64(image_, l1);
  qcow2::testing::patch_be64(image_, l1, entry & ~qcow2::kOflagCopied);
  expect_same({}, image_);
  expect_same({"-r", "all"}, image_);
  EXPECT_EQ(qemu_check(dir_.file("ours.qcow2")).status, 0);
}

TEST_F(ImgCheck, SnapshotsHoldReferences) {
  // Clusters shared between the active L1 table and two snapshots (refcount 2 and 3, COPIED
  // clear), then written again (copy on write).
  must_run("qemu-img snapshot -c one " + quote(image_));
  must_run("qemu-io -c 'write -P 9 64k 64k' " + quote(image_));
  must_run("qemu-img snapshot -c two " + quote(image_));
  must_run("qemu-io -c 'write -P 8 10M 4k' " + quote(image_));
  expect_same({}, image_);
  expect_same({"--output=json"}, image_);
  // Cluster 5 is shared by all three tables: count it once more.
  set_refcount(image_, data_offset_ / 65536, 4);
  expect_same({}, image_);
  expect_same({"-r", "leaks"}, image_);
  EXPECT_EQ(qemu_check(dir_.file("ours.qcow2")).status, 0);
}

TEST_F(ImgCheck, RawAndBrokenInput) {
  std::string raw = dir_.file("r.raw");
  ASSERT_EQ(run_img({"create", "-q", raw, "1M"}).status, 0);
  Result r = run_img({"check", raw});
  EXPECT_EQ(r.status, 63);
  EXPECT_EQ(count_lines(r.err), 1u);
  r = run_img({"check", "-r", "some", image_});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(count_lines(r.err), 1u);
  r = run_img({"check", dir_.file("missing.qcow2")});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(count_lines(r.err), 1u);
}

}  // namespace
}  // namespace tandem::img
