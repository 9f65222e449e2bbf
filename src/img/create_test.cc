// tandem img create: images QEMU accepts and describes as asked, qemu-img's "Formatting" line,
// and one-line errors for bad input.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "img/img_test_util.h"

namespace tandem::img {
namespace {

using namespace testing;

nlohmann::json qemu_info(const std::string& path) {
  return nlohmann::json::parse(must_run("qemu-img info -U --output=json " + quote(path)));
}

// "Formatting 'path', ..." with the path replaced, to compare lines for two files.
std::string formatting_line(std::string out, const std::string& path) {
  size_t p = out.find(path);
  if (p != std::string::npos) out.replace(p, path.size(), "FILE");
  return out;
}

TEST(ImgCreate, Qcow2AsQemuImgCreatesIt) {
  SKIP_WITHOUT_QEMU_IMG();
  ScratchDir dir;
  must_run("qemu-img create -q -f raw " + quote(dir.file("base.raw")) + " 3M");
  const std::vector<std::vector<std::string>> variants = {
      {"-f", "qcow2"},
      {"-f", "qcow2", "-o", "cluster_size=4k,compat=0.10"},
      {"-f", "qcow2", "-o", "compression_type=zstd,lazy_refcounts=on,refcount_bits=8"},
      {"-f", "qcow2", "-q", "-o", "cluster_size=2M"},
      {"-f", "qcow2", "-b", "base.raw", "-F", "raw"},
      {"-fqcow2", "-o", "backing_file=base.raw,backing_fmt=raw,compat=v3"},
  };
  for (const auto& options : variants) {
    std::string desc;
    for (const auto& o : options) desc += o + " ";
    SCOPED_TRACE(desc);
    bool backed = desc.find("base.raw") != std::string::npos;
    std::string ours = dir.file("ours.qcow2"), theirs = dir.file("theirs.qcow2");
    std::vector<std::string> args = {"create"};
    args.insert(args.end(), options.begin(), options.end());
    args.push_back(ours);
    if (!backed) args.push_back("1G");
    Result r = run_img(args);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "");

    std::string qemu = "qemu-img create";
    for (const auto& o : options) qemu += " " + quote(o);
    qemu += " " + quote(theirs) + (backed ? "" : " 1G");
    Result q = run_qemu("cd " + quote(dir.file("")) + " && " + qemu);
    ASSERT_EQ(q.status, 0) << q.err;
    EXPECT_EQ(formatting_line(r.out, ours), formatting_line(q.out, theirs));

    auto check = qcow2::testing::qemu_check(ours);
    EXPECT_EQ(check.status, 0) << check.output;
    nlohmann::json a = qemu_info(ours), b = qemu_info(theirs);
    for (const char* key : {"virtual-size", "cluster-size", "format", "backing-filename",
                            "backing-filename-format", "format-specific"}) {
      EXPECT_EQ(a.value(key, nlohmann::json()), b.value(key, nlohmann::json())) << key;
    }
    // Byte for byte what qemu-img writes.
    EXPECT_EQ(qcow2::testing::read_file(ours), qcow2::testing::read_file(theirs));
  }
}

TEST(ImgCreate, RawRoundsUpToSectors) {
  ScratchDir dir;
  std::string path = dir.file("r.img");
  Result r = run_img({"create", "-f", "raw", path, "1000"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "Formatting '" + path + "', fmt=raw size=1000\n");
  EXPECT_EQ(std::filesystem::file_size(path), 1024u);
  r = run_img({"create", path, "1.5M"});  // raw is the default format
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(std::filesystem::file_size(path), 1572864u);
}

TEST(ImgCreate, SizeComesFromTheBackingFile) {
  ScratchDir dir;
  std::string base = dir.file("base.qcow2"), top = dir.file("top.qcow2");
  ASSERT_EQ(run_img({"create", "-q", "-f", "qcow2", base, "5M"}).status, 0);
  Result r = run_img({"create", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", top});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find(" size=5242880 backing_file=base.qcow2 backing_fmt=qcow2 "),
            std::string::npos)
      << r.out;
  Result info = run_img({"info", "--output=json", top});
  ASSERT_EQ(info.status, 0) << info.err;
  auto j = nlohmann::json::parse(info.out);
  EXPECT_EQ(j["virtual-size"], 5242880);
  EXPECT_EQ(j["backing-filename"], "base.qcow2");
  EXPECT_EQ(j["full-backing-filename"], base);
}

TEST(ImgCreate, BadInputIsOneLine) {
  ScratchDir dir;
  std::string path = dir.file("x.qcow2");
  struct Bad {
    std::vector<std::string> args;
    const char* words;
  };
  const Bad cases[] = {
      {{"create", "-f", "qcow2", path}, "needs a size"},
      {{"create", "-f", "qcow2", path, "10x"}, "Invalid image size"},
      {{"create", "-f", "qcow2", path, "-5"}, "invalid option -- '5'"},
      {{"create", "-f", "vmdkx", path, "1M"}, "Unknown file format 'vmdkx'"},
      {{"create", "-f", "vmdk", path, "1M"}, "not supported"},
      {{"create", "-f", "qcow2", "-o", "foo=bar", path, "1M"}, "Invalid parameter 'foo'"},
      {{"create", "-f", "qcow2", "-o", "cluster_size=1000", path, "1M"}, "Cluster size"},
      {{"create", "-f", "qcow2", "-o", "compat=0.9", path, "1M"}, "compatibility level"},
      {{"create", "-f", "qcow2", "-b", "nope.qcow2", path, "1M"}, "without backing format"},
      {{"create", "-f", "qcow2", "-b", "nope.qcow2", "-F", "qcow2", path}, "nope.qcow2"},
      {{"create", "-f", "raw", "-b", "a", path, "1M"}, "not supported for file format 'raw'"},
      {{"create", "-f", "qcow2", "-z", path, "1M"}, "invalid option -- 'z'"},
      {{"create"}, "Expecting image file name"},
      {{"create", "-f", "qcow2", dir.file("no/such/dir/x.qcow2"), "1M"}, "No such file"},
  };
  for (const Bad& b : cases) {
    std::string desc;
    for (const auto& a : b.args) desc += a + " ";
    SCOPED_TRACE(desc);
    Result r = run_img(b.args);
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(count_lines(r.err), 1u) << r.err;
    EXPECT_EQ(r.err.rfind("tandem: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(b.words), std::string::npos) << r.err;
  }
  EXPECT_EQ(run_img({"frobnicate"}).status, 1);
}

}  // namespace
}  // namespace tandem::img
