#include "machine/x86/boot/loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/error.h"
#include "machine/x86/boot/boot_test_util.h"

namespace tandem::x86 {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

class LoaderTest : public ::testing::Test {
 protected:
  void expect_error(const std::string& kernel, const std::string& message) {
    BootRequest req;
    req.kernel_path = kernel;
    EXPECT_THAT([&] { load_kernel(*ram_, req); }, ThrowsMessage<Error>(HasSubstr(message)));
  }
  testing::TempDir dir_;
  std::unique_ptr<GuestRam> ram_ = testing::make_ram(64ull << 20);
};

TEST_F(LoaderTest, EmptyFile) {
  std::string p = dir_.write("empty", {});
  expect_error(p, p + ": not a bzImage, PVH ELF or multiboot kernel");
}

TEST_F(LoaderTest, Garbage) {
  std::string p = dir_.write("garbage", testing::pattern(64 * 1024, 0x42));
  expect_error(p, p + ": not a bzImage, PVH ELF or multiboot kernel");
  std::string tiny = dir_.write("tiny", {0x7f, 'E', 'L', 'F', 2});
  expect_error(tiny, tiny + ": truncated ELF header");
}

TEST_F(LoaderTest, MissingAndUnreadable) {
  std::string missing = dir_.path() + "/vmlinuz";
  expect_error(missing, missing + ": No such file or directory");
  expect_error(dir_.path(), dir_.path() + ": Is a directory");
  BootRequest none;
  EXPECT_THAT([&] { load_kernel(*ram_, none); }, ThrowsMessage<Error>(HasSubstr("no kernel")));
}

TEST_F(LoaderTest, KernelLargerThanRam) {
  GuestRam small;
  small.add_region(0, 2 << 20);
  BootRequest req;
  req.kernel_path = dir_.write("big", testing::pattern(3 << 20, 1));
  EXPECT_THAT([&] { load_kernel(small, req); },
              ThrowsMessage<Error>(HasSubstr("does not fit in guest RAM")));
}

}  // namespace
}  // namespace tandem::x86
