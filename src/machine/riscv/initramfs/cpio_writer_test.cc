#include "machine/riscv/initramfs/cpio_writer.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "machine/riscv/initramfs/test_util.h"

namespace tandem {
namespace {

using testing::read_text;
using testing::run;
using testing::TempDir;
using testing::write_file;

uint32_t field(const std::vector<uint8_t>& a, size_t entry_offset, int index) {
  std::string hex(a.begin() + entry_offset + 6 + 8 * index,
                  a.begin() + entry_offset + 6 + 8 * index + 8);
  return static_cast<uint32_t>(std::stoul(hex, nullptr, 16));
}
enum {
  kIno,
  kMode,
  kUid,
  kGid,
  kNlink,
  kMtime,
  kSize,
  kDevMaj,
  kDevMin,
  kRdevMaj,
  kRdevMin,
  kNameSize,
  kCheck
};

TEST(CpioWriter, ByteLayoutOfOneFileAndTheTrailer) {
  CpioWriter w(1234);
  w.add_file("hello", std::string_view("abcde"), 0640);
  auto a = w.finish();
  // Entry 1: 110-byte header, "hello\0" (6) -> 116, already a multiple of 4; data 5 -> pad to 8.
  ASSERT_GE(a.size(), 124u);
  EXPECT_EQ(std::string(a.begin(), a.begin() + 6), "070701");
  EXPECT_EQ(field(a, 0, kIno), 1u);
  EXPECT_EQ(field(a, 0, kMode), 0100640u);
  EXPECT_EQ(field(a, 0, kNlink), 1u);
  EXPECT_EQ(field(a, 0, kMtime), 1234u);
  EXPECT_EQ(field(a, 0, kSize), 5u);
  EXPECT_EQ(field(a, 0, kNameSize), 6u);
  EXPECT_EQ(field(a, 0, kCheck), 0u);
  EXPECT_EQ(std::string(a.begin() + 110, a.begin() + 116), std::string("hello\0", 6));
  EXPECT_EQ(std::string(a.begin() + 116, a.begin() + 121), "abcde");
  for (size_t i = 121; i < 124; ++i) EXPECT_EQ(a[i], 0);
  // Trailer: header at 124, "TRAILER!!!\0" (11) -> 245, padded to 248.
  EXPECT_EQ(std::string(a.begin() + 124, a.begin() + 130), "070701");
  EXPECT_EQ(field(a, 124, kNameSize), 11u);
  EXPECT_EQ(field(a, 124, kSize), 0u);
  EXPECT_EQ(std::string(a.begin() + 234, a.begin() + 244), "TRAILER!!!");
  EXPECT_EQ(a.size(), 248u);
  EXPECT_EQ(a.size() % 4, 0u);
}

TEST(CpioWriter, NamePaddingForEveryLengthModFour) {
  for (size_t len = 1; len <= 8; ++len) {
    CpioWriter w;
    std::string name(len, 'x');
    w.add_file(name, std::string_view("z"));
    auto a = w.finish();
    size_t data_at = (110 + len + 1 + 3) / 4 * 4;
    EXPECT_EQ(a[data_at], 'z') << len;
    EXPECT_EQ(a[110 + len], 0) << len;  // the NUL
  }
}

TEST(CpioWriter, ParentsAreAddedFirstAndOnce) {
  CpioWriter w;
  w.add_file("a/b/c", std::string_view("1"));
  w.add_file("a/b/d", std::string_view("2"));
  EXPECT_TRUE(w.contains("a"));
  EXPECT_TRUE(w.contains("/a/b"));
  auto a = w.finish();
  // Entry order: a (dir), a/b (dir), a/b/c, a/b/d.
  EXPECT_EQ(field(a, 0, kMode), 040755u);
  EXPECT_EQ(field(a, 0, kNlink), 2u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(&a[110])), "a");
}

TEST(CpioWriter, RejectsDuplicatesAndBadPaths) {
  CpioWriter w;
  w.add_directory("etc");
  EXPECT_THROW(w.add_directory("etc"), Error);
  EXPECT_THROW(w.add_file("/etc/", std::string_view("")), Error);
  EXPECT_THROW(w.add_file("", std::string_view("")), Error);
  EXPECT_THROW(w.add_file("a/../b", std::string_view("")), Error);
  EXPECT_THROW(w.add_file("a//b", std::string_view("")), Error);
  EXPECT_THROW(w.add_symlink("l", ""), Error);
}

TEST(CpioWriter, DeviceNodeHeader) {
  CpioWriter w;
  w.add_char_device("console", 5, 1);
  auto a = w.finish();
  EXPECT_EQ(field(a, 0, kMode), 020600u);
  EXPECT_EQ(field(a, 0, kRdevMaj), 5u);
  EXPECT_EQ(field(a, 0, kRdevMin), 1u);
  EXPECT_EQ(field(a, 0, kSize), 0u);
}

TEST(CpioWriter, InodesAreUnique) {
  CpioWriter w;
  w.add_file("x/1", std::string_view("a"));
  w.add_file("x/2", std::string_view("b"));
  auto a = w.finish();
  std::vector<uint32_t> inos;
  size_t off = 0;
  while (off < a.size()) {
    uint32_t namesize = field(a, off, kNameSize);
    uint32_t size = field(a, off, kSize);
    std::string name(reinterpret_cast<const char*>(&a[off + 110]));
    if (name == "TRAILER!!!") break;
    inos.push_back(field(a, off, kIno));
    off = (off + 110 + namesize + 3) / 4 * 4;
    off = (off + size + 3) / 4 * 4;
  }
  EXPECT_EQ(inos, (std::vector<uint32_t>{1, 2, 3}));
}

// GNU cpio (Debian's cpio package) must list and unpack what we write.
TEST(CpioWriter, RoundTripThroughGnuCpio) {
  ASSERT_EQ(access("/usr/bin/cpio", X_OK), 0) << "cpio missing: apt-get install cpio";
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  CpioWriter w;
  std::vector<uint8_t> binary(70001);
  for (size_t i = 0; i < binary.size(); ++i) binary[i] = static_cast<uint8_t>(i * 7 + 3);
  w.add_file("bin/tool", binary, 0755);
  w.add_symlink("bin/sh", "tool");
  w.add_file("etc/motd", std::string_view("hello\n"));
  w.add_directory("empty", 0700);
  w.add_file("etc/0", std::string_view(""));
  write_file(tmp.path() / "a.cpio", w.finish());

  int status;
  std::string list = run("cd " + tmp.path().string() + " && cpio -it --quiet < a.cpio", &status);
  ASSERT_EQ(status, 0) << list;
  EXPECT_EQ(list, "bin\nbin/tool\nbin/sh\netc\netc/motd\nempty\netc/0\n");

  std::string verbose =
      run("cd " + tmp.path().string() + " && cpio -itv --quiet < a.cpio", &status);
  EXPECT_NE(verbose.find("bin/sh -> tool"), std::string::npos) << verbose;

  std::filesystem::path out = tmp.path() / "out";
  std::filesystem::create_directory(out);
  std::string msg = run("cd " + out.string() + " && cpio -idm --quiet < ../a.cpio", &status);
  ASSERT_EQ(status, 0) << msg;
  std::string got = read_text(out / "bin/tool");
  EXPECT_EQ(std::vector<uint8_t>(got.begin(), got.end()), binary);
  EXPECT_EQ(read_text(out / "etc/motd"), "hello\n");
  EXPECT_EQ(std::filesystem::read_symlink(out / "bin/sh"), "tool");
  EXPECT_TRUE(std::filesystem::is_directory(out / "empty"));
  struct stat st;
  ASSERT_EQ(stat((out / "bin/tool").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  ASSERT_EQ(stat((out / "empty").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_EQ(std::filesystem::file_size(out / "etc/0"), 0u);
}

}  // namespace
}  // namespace tandem
