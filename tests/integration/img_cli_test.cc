// `tandem img` through the real binary: create, info, convert, and bad input.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "tests/integration/run_command.h"

namespace tandem::testing {
namespace {

std::string tandem_bin() {
  const char* env = std::getenv("TANDEM_BIN");
  return env && *env ? env : TANDEM_BIN;
}

class ImgCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(tandem_bin())) {
      GTEST_FAIL() << "tandem binary not built: " << tandem_bin();
    }
    char tmpl[] = "/tmp/tandem-img-cli-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  CommandResult img(std::vector<std::string> args) {
    args.insert(args.begin(), {tandem_bin(), "img"});
    CommandOptions o;
    o.timeout = std::chrono::seconds(60);
    return run_command(args, o);
  }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  std::string dir_;
};

std::vector<char> read_all(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(in), {});
}

TEST_F(ImgCli, CreateThenInfo) {
  auto r = img({"create", "-f", "qcow2", "-o", "cluster_size=4k", path("a.qcow2"), "64M"});
  ASSERT_TRUE(r.exited && r.exit_code == 0) << r.describe();
  EXPECT_EQ(r.out, "Formatting '" + path("a.qcow2") +
                       "', fmt=qcow2 cluster_size=4096 extended_l2=off compression_type=zlib "
                       "size=67108864 lazy_refcounts=off refcount_bits=16\n");
  r = img({"info", "--output=json", path("a.qcow2")});
  ASSERT_TRUE(r.exited && r.exit_code == 0) << r.describe();
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["virtual-size"], 67108864);
  EXPECT_EQ(j["cluster-size"], 4096);
  EXPECT_EQ(j["format"], "qcow2");
  EXPECT_EQ(j["format-specific"]["data"]["compat"], "1.1");
  r = img({"info", path("a.qcow2")});
  EXPECT_NE(r.out.find("virtual size: 64 MiB (67108864 bytes)\n"), std::string::npos) << r.out;
}

TEST_F(ImgCli, ConvertRoundTrip) {
  // 5 MiB: random data, a hole, then text.
  std::mt19937 rng(7);
  std::vector<char> data(5 << 20, 0);
  for (size_t i = 0; i < (1u << 20); ++i) data[i] = static_cast<char>(rng());
  std::string text = "round trip through qcow2 ";
  for (size_t i = 3u << 20; i < data.size(); ++i) data[i] = text[i % text.size()];
  {
    std::ofstream out(path("in.raw"), std::ios::binary);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
  }
  auto r = img({"convert", "-c", "-O", "qcow2", path("in.raw"), path("mid.qcow2")});
  ASSERT_TRUE(r.exited && r.exit_code == 0) << r.describe();
  r = img({"convert", "-p", "-f", "qcow2", "-O", "raw", path("mid.qcow2"), path("out.raw")});
  ASSERT_TRUE(r.exited && r.exit_code == 0) << r.describe();
  EXPECT_NE(r.out.find("(100.00/100%)"), std::string::npos) << r.out;
  EXPECT_EQ(read_all(path("out.raw")), data);
  r = img({"compare", path("in.raw"), path("mid.qcow2")});
  EXPECT_TRUE(r.exited && r.exit_code == 0) << r.describe();
  EXPECT_EQ(r.out, "Images are identical.\n");
  r = img({"check", path("mid.qcow2")});
  EXPECT_TRUE(r.exited && r.exit_code == 0) << r.describe();
}

TEST_F(ImgCli, BadInputIsOneLineAndNonZero) {
  {
    std::ofstream out(path("junk.qcow2"), std::ios::binary);
    out << "QFI\xfb" << std::string(10, '\0');  // a qcow2 magic and nothing else
  }
  const std::vector<std::vector<std::string>> cases = {
      {"info", path("missing.qcow2")},
      {"info", path("junk.qcow2")},
      {"convert", path("junk.qcow2"), path("o.raw")},
      {"create", "-f", "qcow2", path("x.qcow2"), "12Q"},
      {"create", "--frobnicate", path("x.qcow2"), "1M"},
      {"check", path("junk.qcow2")},
      {"frobnicate"},
  };
  for (const auto& args : cases) {
    auto r = img(args);
    std::string cmd;
    for (const auto& a : args) cmd += " " + a;
    SCOPED_TRACE("tandem img" + cmd);
    ASSERT_TRUE(r.exited) << r.describe();
    EXPECT_FALSE(r.core_dumped);
    EXPECT_NE(r.exit_code, 0);
    auto lines = split_lines(r.err);
    ASSERT_EQ(lines.size(), 1u) << r.describe();
    EXPECT_EQ(lines[0].rfind("tandem: ", 0), 0u) << lines[0];
  }
  auto r = img({});
  EXPECT_TRUE(r.exited && r.exit_code == 1);
  EXPECT_NE(r.err.find("usage: tandem img"), std::string::npos);
}

}  // namespace
}  // namespace tandem::testing
