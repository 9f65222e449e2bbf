// tandem img convert, checked against qemu-img: the guest's bytes survive every direction,
// outputs pass `qemu-img check`, stay sparse, and -c output is smaller and still identical.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "img/img_test_util.h"

namespace tandem::img {
namespace {

using namespace testing;
using qcow2::testing::qemu_check;
using qcow2::testing::read_file;

uint64_t allocated_bytes(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

class ImgConvert : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_QEMU_IMG();
    // A backing chain: base (raw data at 1M), mid (qcow2), top (qcow2, zero clusters hiding the
    // base, compressed data, data across L2 tables), 24 MiB + 5 sectors.
    q("qemu-img create -q -f raw base.raw 8M");
    q("qemu-io -f raw -c 'write -P 0x11 1M 512k' -c 'write -P 0x12 6M 100k' base.raw");
    q("qemu-img create -q -f qcow2 -o cluster_size=4096 -b base.raw -F raw mid.qcow2 16M");
    q("qemu-io -c 'write -P 0x21 3M 256k' -c 'write -P 0x22 1100k 8k' mid.qcow2");
    q("qemu-img create -q -f qcow2 -b mid.qcow2 -F qcow2 top.qcow2 25168384");
    q("qemu-io -c 'write -P 0x31 0 100k' -c 'write -z 6M 128k' -c 'write -c -P 0x32 8M 64k' "
      "top.qcow2");
    q("qemu-io -c 'write -P 0x34 20M 4M' -c 'write -P 0x35 25167872 512' top.qcow2");
    expected_ = qcow2::testing::qemu_contents(dir_, dir_.file("top.qcow2"));
  }
  void q(const std::string& cmd) { must_run("cd " + quote(dir_.file("")) + " && " + cmd); }
  std::string f(const std::string& name) const { return dir_.file(name); }

  ScratchDir dir_;
  std::vector<uint8_t> expected_;
};

TEST_F(ImgConvert, Qcow2ChainToRawIsQemusBytesAndSparse) {
  Result r = run_img({"convert", "-O", "raw", f("top.qcow2"), f("out.raw")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(read_file(f("out.raw")), expected_);
  // About 5.5 MiB of data in 24 MiB.
  EXPECT_LT(allocated_bytes(f("out.raw")), 8u << 20);
}

TEST_F(ImgConvert, RawToQcow2AndBack) {
  ASSERT_EQ(run_img({"convert", "-O", "raw", f("top.qcow2"), f("flat.raw")}).status, 0);
  Result r = run_img({"convert", "-f", "raw", "-O", "qcow2", f("flat.raw"), f("flat.qcow2")});
  ASSERT_EQ(r.status, 0) << r.err;
  auto check = qemu_check(f("flat.qcow2"));
  EXPECT_EQ(check.status, 0) << check.output;
  EXPECT_EQ(qcow2::testing::qemu_contents(dir_, f("flat.qcow2")), expected_);
  auto info = nlohmann::json::parse(must_run("qemu-img info --output=json " + f("flat.qcow2")));
  EXPECT_EQ(info["virtual-size"], expected_.size());
  EXPECT_FALSE(info.contains("backing-filename"));
  // Zero runs stay unallocated: far less than the virtual size.
  EXPECT_LT(std::filesystem::file_size(f("flat.qcow2")), 8u << 20);
  EXPECT_EQ(run_command("qemu-img compare " + f("flat.qcow2") + " " + f("top.qcow2")).status, 0);
}

// -m N chunks in flight (N readers for a raw source into qcow2, N workers into raw): the qcow2
// output is still written in order, so it is the same file byte for byte whatever N.
TEST_F(ImgConvert, ParallelChunksGiveTheSameFiles) {
  ASSERT_EQ(run_img({"convert", "-O", "raw", f("top.qcow2"), f("flat.raw")}).status, 0);
  for (const char* m : {"1", "3", "16"}) {
    const std::string q = f(std::string("m") + m + ".qcow2"), r = f(std::string("m") + m + ".raw");
    Result a = run_img({"convert", "-m", m, "-f", "raw", "-O", "qcow2", f("flat.raw"), q});
    ASSERT_EQ(a.status, 0) << a.err;
    Result b = run_img({"convert", "-m", m, "-O", "raw", f("top.qcow2"), r});
    ASSERT_EQ(b.status, 0) << b.err;
    EXPECT_EQ(read_file(r), expected_) << "-m " << m;
    EXPECT_EQ(qcow2::testing::qemu_contents(dir_, q), expected_) << "-m " << m;
  }
  EXPECT_EQ(read_file(f("m1.qcow2")), read_file(f("m3.qcow2")));
  EXPECT_EQ(read_file(f("m1.qcow2")), read_file(f("m16.qcow2")));
}

TEST_F(ImgConvert, Qcow2ToQcow2WithOptions) {
  Result r = run_img({"convert", "-O", "qcow2", "-o", "cluster_size=16k,compat=0.10",
                      f("top.qcow2"), f("v2.qcow2")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(qemu_check(f("v2.qcow2")).status, 0) << qemu_check(f("v2.qcow2")).output;
  auto info = nlohmann::json::parse(must_run("qemu-img info --output=json " + f("v2.qcow2")));
  EXPECT_EQ(info["cluster-size"], 16384);
  EXPECT_EQ(info["format-specific"]["data"]["compat"], "0.10");
  EXPECT_EQ(qcow2::testing::qemu_contents(dir_, f("v2.qcow2")), expected_);
}

TEST_F(ImgConvert, CompressedOutputIsSmallerAndIdentical) {
  // Compressible data: text repeated through the image.
  std::vector<uint8_t> text;
  const std::string line = "tandem img convert -c writes compressed clusters; ";
  while (text.size() < (6u << 20)) text.insert(text.end(), line.begin(), line.end());
  text.resize(6u << 20);
  qcow2::testing::write_file(f("text.raw"), text);
  for (const char* type : {"zlib", "zstd"}) {
    SCOPED_TRACE(type);
    std::string plain = f(std::string("plain-") + type + ".qcow2");
    std::string packed = f(std::string("packed-") + type + ".qcow2");
    std::string opt = std::string("compression_type=") + type;
    ASSERT_EQ(run_img({"convert", "-O", "qcow2", "-o", opt, f("text.raw"), plain}).status, 0);
    Result r = run_img({"convert", "-c", "-O", "qcow2", "-o", opt, f("text.raw"), packed});
    ASSERT_EQ(r.status, 0) << r.err;
    auto check = qemu_check(packed);
    EXPECT_EQ(check.status, 0) << check.output;
    EXPECT_NE(check.output.find("100.00% compressed clusters"), std::string::npos) << check.output;
    EXPECT_EQ(qcow2::testing::qemu_contents(dir_, packed), text);
    EXPECT_LT(std::filesystem::file_size(packed) * 4, std::filesystem::file_size(plain));
  }
  // The chain, compressed: data identical, zero ranges still unallocated.
  Result r = run_img({"convert", "-c", "-O", "qcow2", f("top.qcow2"), f("chain-c.qcow2")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(qemu_check(f("chain-c.qcow2")).status, 0);
  EXPECT_EQ(qcow2::testing::qemu_contents(dir_, f("chain-c.qcow2")), expected_);
}

TEST_F(ImgConvert, ProgressAndNoSparse) {
  Result r = run_img({"convert", "-p", "-S", "0", "-O", "raw", f("top.qcow2"), f("full.raw")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.rfind("    (0.00/100%)\r", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("    (100.00/100%)\r\n"), std::string::npos) << r.out;
  EXPECT_EQ(read_file(f("full.raw")), expected_);
  // -S 0: every byte written, the file fully allocated.
  EXPECT_GE(allocated_bytes(f("full.raw")), expected_.size() / 4096 * 4096);
}

TEST_F(ImgConvert, BadInputIsOneLine) {
  const std::vector<std::vector<std::string>> cases = {
      {"convert", f("missing.qcow2"), f("o.raw")},
      {"convert", "-c", "-O", "raw", f("top.qcow2"), f("o.raw")},
      {"convert", "-O", "vmdk", f("top.qcow2"), f("o.vmdk")},
      {"convert", "-O", "qcow2", "-o", "cluster_size=3k", f("top.qcow2"), f("o.qcow2")},
      {"convert", "-S", "1000", f("top.qcow2"), f("o.raw")},
      {"convert", f("top.qcow2")},
      {"convert", "-f", "qcow2", f("base.raw"), f("o.raw")},
      {"convert", f("top.qcow2"), f("top.qcow2")},
      {"convert", f("top.qcow2"), f("base.raw")},  // its own backing file
  };
  for (const auto& args : cases) {
    std::string desc;
    for (const auto& a : args) desc += a + " ";
    SCOPED_TRACE(desc);
    Result r = run_img(args);
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(count_lines(r.err), 1u) << r.err;
  }
  EXPECT_EQ(qcow2::testing::qemu_contents(dir_, f("top.qcow2")), expected_);
}

TEST_F(ImgConvert, CorruptSourceFailsWithTheReason) {
  // Point an L1 entry of a copy of the top image far outside the file.
  q("cp top.qcow2 bad.qcow2");
  uint64_t l1 = qcow2::testing::file_be64(f("bad.qcow2"), 40);
  qcow2::testing::patch_be64(f("bad.qcow2"), l1, (uint64_t{1} << 50) | qcow2::kOflagCopied);
  Result r = run_img({"convert", "-O", "raw", f("bad.qcow2"), f("o.raw")});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(count_lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("bad.qcow2"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace tandem::img
