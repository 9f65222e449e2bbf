// qemu-img's command-line spelling: options, sizes, -o lists and human-readable sizes.
#include "img/options.h"

#include <gtest/gtest.h>

#include "base/error.h"

namespace tandem::img {
namespace {

enum { kF, kOut, kP, kQ };
constexpr OptionSpec kSpec[] = {{'f', nullptr, true, kF},
                                {0, "output", true, kOut},
                                {'p', nullptr, false, kP},
                                {'q', "quiet", false, kQ}};

TEST(ImgOptions, ShortLongGroupedAndSeparated) {
  ParsedArgs a = parse_args(
      "x",
      {"-f", "qcow2", "a", "--output=json", "-pq", "b", "-fraw", "--output", "human", "--", "-c"},
      kSpec);
  ASSERT_EQ(a.options.size(), 6u);
  EXPECT_EQ(a.options[0], std::make_pair(int{kF}, std::string("qcow2")));
  EXPECT_EQ(a.options[1], std::make_pair(int{kOut}, std::string("json")));
  EXPECT_EQ(a.options[2].first, kP);
  EXPECT_EQ(a.options[3].first, kQ);
  EXPECT_EQ(a.options[4], std::make_pair(int{kF}, std::string("raw")));
  EXPECT_EQ(a.options[5], std::make_pair(int{kOut}, std::string("human")));
  EXPECT_EQ(a.positional, (std::vector<std::string>{"a", "b", "-c"}));
}

TEST(ImgOptions, BadOptionsNameThemselves) {
  auto message = [](std::vector<std::string> args) -> std::string {
    try {
      parse_args("create", args, kSpec);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(message({"-x"}).find("invalid option -- 'x'"), std::string::npos);
  EXPECT_NE(message({"--bogus"}).find("'--bogus'"), std::string::npos);
  EXPECT_NE(message({"-f"}).find("requires an argument"), std::string::npos);
  EXPECT_NE(message({"--output"}).find("requires an argument"), std::string::npos);
  EXPECT_NE(message({"--quiet=1"}).find("doesn't allow"), std::string::npos);
}

TEST(ImgOptions, SizesAsQemuImgReadsThem) {
  EXPECT_EQ(parse_size("0"), 0u);
  EXPECT_EQ(parse_size("512"), 512u);
  EXPECT_EQ(parse_size("1k"), 1024u);
  EXPECT_EQ(parse_size("1K"), 1024u);
  EXPECT_EQ(parse_size("10M"), 10u << 20);
  EXPECT_EQ(parse_size("1.5M"), 1572864u);
  EXPECT_EQ(parse_size("2G"), 2ull << 30);
  EXPECT_EQ(parse_size("3T"), 3ull << 40);
  EXPECT_EQ(parse_size("1P"), 1ull << 50);
  EXPECT_EQ(parse_size("7b"), 7u);
  for (const char* bad :
       {"", "-5", "10x", "1MB", "G", "1..5M", "16E", "99999999999999999999", " 1"}) {
    EXPECT_THROW(parse_size(bad), Error) << bad;
  }
}

TEST(ImgOptions, OptionLists) {
  auto l = parse_option_list("cluster_size=4k,backing_file=a,,b.img,compat=1.1");
  ASSERT_EQ(l.size(), 3u);
  EXPECT_EQ(l[0], std::make_pair(std::string("cluster_size"), std::string("4k")));
  EXPECT_EQ(l[1], std::make_pair(std::string("backing_file"), std::string("a,b.img")));
  EXPECT_EQ(l[2], std::make_pair(std::string("compat"), std::string("1.1")));
  EXPECT_THROW(parse_option_list("novalue"), Error);
  EXPECT_TRUE(parse_bool("x", "on"));
  EXPECT_FALSE(parse_bool("x", "off"));
  EXPECT_THROW(parse_bool("x", "maybe"), Error);
}

TEST(ImgOptions, HumanSizes) {
  EXPECT_EQ(size_to_str(0), "0 B");
  EXPECT_EQ(size_to_str(4096), "4 KiB");
  EXPECT_EQ(size_to_str(200704), "196 KiB");
  EXPECT_EQ(size_to_str(1314816), "1.25 MiB");
  EXPECT_EQ(size_to_str(1ull << 30), "1 GiB");
  EXPECT_EQ(size_to_str(1000), "0.977 KiB");
  EXPECT_EQ(size_to_str(999), "999 B");
  EXPECT_EQ(size_to_str(10ull << 40), "10 TiB");
}

}  // namespace
}  // namespace tandem::img
