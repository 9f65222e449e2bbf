// Bad input at the edge: each must give exactly one line on stderr naming the problem and a
// non-zero exit status, never a crash, a core dump or a hang.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>

#include "tests/integration/tandem_runner.h"

namespace tandem::testing {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

class CliErrorTest : public TandemTest {
 protected:
  // Runs tandem with args and checks the error contract; `names` is a regular expression the
  // error line must match (case-insensitive).
  void expect_one_line_error(std::vector<std::string> args, const std::string& names) {
    CommandOptions o;
    o.timeout = std::chrono::seconds(20);
    auto r = tandem(args, o);
    std::string cmd;
    for (const auto& a : args) cmd += " " + a;
    SCOPED_TRACE("tandem" + cmd);
    ASSERT_FALSE(r.timed_out) << r.describe();
    ASSERT_TRUE(r.exited) << "did not exit normally: " << r.describe();
    EXPECT_FALSE(r.core_dumped);
    EXPECT_NE(r.exit_code, 0) << r.describe();
    EXPECT_NE(r.exit_code, kGuestSuccess) << r.describe();
    auto lines = split_lines(r.err);
    ASSERT_EQ(lines.size(), 1u) << "expected exactly one line on stderr: " << r.describe();
    EXPECT_FALSE(lines[0].empty());
    EXPECT_TRUE(std::regex_search(lower(lines[0]), std::regex(lower(names))))
        << "error line does not name the problem (" << names << "): " << lines[0];
  }

  std::vector<std::string> run_args(std::vector<std::string> extra) {
    std::vector<std::string> args = {"run", "--accel", "kvm"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  std::string guest() { return guest_image("boot_params.bzImage"); }
};

TEST_F(CliErrorTest, NoKernel) {
  expect_one_line_error(run_args({"--memory", "64M"}), "kernel");
}

TEST_F(CliErrorTest, MissingKernelFile) {
  expect_one_line_error(run_args({"--kernel", dir_ + "/no-such-vmlinuz"}), "no-such-vmlinuz");
}

TEST_F(CliErrorTest, KernelIsADirectory) {
  // Root reads any file regardless of its mode, so "unreadable" is a directory here.
  expect_one_line_error(run_args({"--kernel", dir_}), std::filesystem::path(dir_).filename());
}

TEST_F(CliErrorTest, KernelNeitherBzImageNorElf) {
  std::string text = "tandem-host\n";
  std::ifstream hostname("/etc/hostname");
  if (hostname) text.assign(std::istreambuf_iterator<char>(hostname), {});
  std::string path = write_file("hostname-copy", text);
  expect_one_line_error(run_args({"--kernel", path}), "hostname-copy");
}

TEST_F(CliErrorTest, EmptyKernel) {
  expect_one_line_error(run_args({"--kernel", write_file("empty-kernel", "")}), "empty-kernel");
}

TEST_F(CliErrorTest, TruncatedBzImage) {
  std::ifstream in(guest(), std::ios::binary);
  std::string data(std::istreambuf_iterator<char>(in), {});
  ASSERT_GT(data.size(), 4096u);
  data.resize(1024);  // header present, setup sectors and payload missing
  expect_one_line_error(run_args({"--kernel", write_file("truncated.bzImage", data)}),
                        "truncated.bzImage");
}

TEST_F(CliErrorTest, ElfWithoutPvhNote) {
  std::ifstream in("/bin/true", std::ios::binary);
  std::string data(std::istreambuf_iterator<char>(in), {});
  ASSERT_FALSE(data.empty());
  expect_one_line_error(run_args({"--kernel", write_file("plain.elf", data)}), "plain.elf");
}

TEST_F(CliErrorTest, MissingInitrd) {
  expect_one_line_error(run_args({"--kernel", guest(), "--initrd", dir_ + "/no-such-initrd"}),
                        "no-such-initrd");
}

TEST_F(CliErrorTest, MemoryZero) {
  expect_one_line_error(run_args({"--kernel", guest(), "--memory", "0"}), "memory|ram");
}

TEST_F(CliErrorTest, MemoryTooSmall) {
  expect_one_line_error(run_args({"--kernel", guest(), "--memory", "1M"}), "memory|ram");
}

TEST_F(CliErrorTest, MemoryMoreThanTheHostCanGive) {
  expect_one_line_error(run_args({"--kernel", guest(), "--memory", "100T"}), "memory|ram");
}

TEST_F(CliErrorTest, MemoryNotANumber) {
  expect_one_line_error(run_args({"--kernel", guest(), "--memory", "lots"}), "memory|lots");
}

TEST_F(CliErrorTest, CpusZero) {
  expect_one_line_error(run_args({"--kernel", guest(), "--cpus", "0"}), "cpu");
}

TEST_F(CliErrorTest, CpusTooMany) {
  expect_one_line_error(run_args({"--kernel", guest(), "--cpus", "100000"}), "cpu");
}

TEST_F(CliErrorTest, UnknownOption) {
  expect_one_line_error(run_args({"--kernel", guest(), "--frobnicate"}), "frobnicate");
}

TEST_F(CliErrorTest, UnknownMachine) {
  expect_one_line_error(run_args({"--kernel", guest(), "--machine", "nosuchmachine"}),
                        "nosuchmachine");
}

TEST_F(CliErrorTest, UnknownDevice) {
  expect_one_line_error(run_args({"--kernel", guest(), "-device", "nosuchdevice"}), "nosuchdevice");
}

}  // namespace
}  // namespace tandem::testing
