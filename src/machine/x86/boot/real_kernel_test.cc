// Loads Debian's real linux-image-*-cloud-amd64 bzImage and checks the loader's decisions against
// the boot protocol fields read straight from the file. scripts/fetch-test-kernels.sh (run by
// scripts/test.sh) puts the kernel in the cache; TANDEM_X86_KERNEL overrides the path. A missing
// kernel is a failure, not a skip.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

#include "base/error.h"
#include "machine/x86/boot/boot_layout.h"
#include "machine/x86/boot/boot_test_util.h"
#include "machine/x86/boot/bytes.h"
#include "machine/x86/boot/loader.h"

namespace tandem::x86 {
namespace {

using ::testing::HasSubstr;
using testing::read_guest;
using testing::read_guest_string;
using ::testing::ThrowsMessage;

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kZeroPage = 0x7000;

std::string kernel_path() {
  if (const char* p = getenv("TANDEM_X86_KERNEL"); p && *p) return p;
  std::string cache;
  if (const char* c = getenv("TANDEM_CACHE"); c && *c) {
    cache = c;
  } else {
    const char* home = getenv("HOME");
    cache = std::string(home ? home : "") + "/.cache/tandem";
  }
  return cache + "/x86/vmlinuz";
}

class RealKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = kernel_path();
    std::ifstream in(path_, std::ios::binary | std::ios::ate);
    ASSERT_TRUE(in) << "real kernel " << path_
                    << " is missing: run scripts/fetch-test-kernels.sh or set TANDEM_X86_KERNEL";
    image_.resize(static_cast<size_t>(in.tellg()));
    in.seekg(0);
    in.read(reinterpret_cast<char*>(image_.data()), static_cast<std::streamsize>(image_.size()));
    ASSERT_TRUE(in) << "cannot read " << path_;
    ASSERT_GT(image_.size(), 0x1000u);
    ByteView v(image_);
    version_ = v.u16(0x206);
    uint8_t sects = v.u8(0x1f1);
    setup_size_ = (uint64_t{sects == 0 ? 4u : sects} + 1) * 512;
    syssize_bytes_ = uint64_t{v.u32(0x1f4)} * 16;
    initrd_addr_max_ = v.u32(0x22c);
    kernel_alignment_ = v.u32(0x230);
    relocatable_ = v.u8(0x234);
    xloadflags_ = v.u16(0x236);
    cmdline_size_ = v.u32(0x238);
    pref_address_ = v.u64(0x258);
    init_size_ = v.u32(0x260);
  }

  BootRequest request(const std::string& cmdline, size_t initrd_size) {
    BootRequest req;
    req.kernel_path = path_;
    req.cmdline = cmdline;
    if (initrd_size) req.initrd_path = dir_.write("initrd", testing::pattern(initrd_size, 3));
    return req;
  }

  std::string path_;
  std::vector<uint8_t> image_;
  uint16_t version_ = 0, xloadflags_ = 0;
  uint64_t setup_size_ = 0, syssize_bytes_ = 0, pref_address_ = 0;
  uint32_t initrd_addr_max_ = 0, kernel_alignment_ = 0, cmdline_size_ = 0, init_size_ = 0;
  uint8_t relocatable_ = 0;
  testing::TempDir dir_;
};

TEST_F(RealKernelTest, ProtocolFieldsAreWhatALoaderExpects) {
  EXPECT_EQ(std::string(image_.begin() + 0x202, image_.begin() + 0x206), "HdrS");
  EXPECT_GE(version_, 0x20c);
  EXPECT_NE(xloadflags_ & 1, 0);  // XLF_KERNEL_64
  EXPECT_NE(relocatable_, 0);
  EXPECT_TRUE(is_power_of_two(kernel_alignment_));
  EXPECT_EQ(pref_address_ % kernel_alignment_, 0u);
  EXPECT_GT(init_size_, syssize_bytes_);
  EXPECT_GE(cmdline_size_, 255u);
  EXPECT_LE(setup_size_ + syssize_bytes_, image_.size());
}

TEST_F(RealKernelTest, LoadsAtPrefAddressWithInitrdAboveInitSize) {
  auto ram = testing::make_ram(512 * kMiB);
  const size_t initrd_size = 3 * kMiB + 123;
  BootResult r = load_kernel(*ram, request("console=ttyS0 root=/dev/vda", initrd_size));
  EXPECT_EQ(r.format, "bzImage");
  EXPECT_EQ(r.bsp.mode, EntryMode::kLong64);
  EXPECT_EQ(r.bsp.rip, pref_address_ + 0x200);
  EXPECT_EQ(r.bsp.rsi, kZeroPage);

  EXPECT_EQ(ram->load<uint16_t>(kZeroPage + 0x206), version_);
  EXPECT_EQ(ram->load<uint32_t>(kZeroPage + 0x214), pref_address_);  // code32_start
  EXPECT_EQ(ram->load<uint32_t>(kZeroPage + 0x230), kernel_alignment_);
  EXPECT_EQ(ram->load<uint32_t>(kZeroPage + 0x260), init_size_);
  EXPECT_EQ(ram->load<uint8_t>(kZeroPage + 0x210), 0xff);
  // The protected-mode kernel is at pref_address, byte for byte.
  std::vector<uint8_t> kernel(image_.begin() + setup_size_,
                              image_.begin() + setup_size_ + syssize_bytes_);
  EXPECT_TRUE(read_guest(*ram, pref_address_, kernel.size()) == kernel);

  uint32_t initrd = ram->load<uint32_t>(kZeroPage + 0x218);
  EXPECT_EQ(ram->load<uint32_t>(kZeroPage + 0x21c), initrd_size);
  EXPECT_EQ(initrd % 4096, 0u);
  EXPECT_GE(initrd, pref_address_ + init_size_);
  EXPECT_LE(uint64_t{initrd} + initrd_size - 1, initrd_addr_max_);
  uint64_t ceiling = std::min<uint64_t>(uint64_t{initrd_addr_max_} + 1, 512 * kMiB);
  EXPECT_EQ(initrd, (ceiling - initrd_size) & ~0xfffull);
  EXPECT_EQ(read_guest(*ram, initrd, initrd_size), testing::pattern(initrd_size, 3));

  EXPECT_EQ(read_guest_string(*ram, ram->load<uint32_t>(kZeroPage + 0x228)),
            "console=ttyS0 root=/dev/vda");
  EXPECT_EQ(ram->load<uint8_t>(kZeroPage + 0x1e8), 3);
}

TEST_F(RealKernelTest, RelocatesWhenPrefAddressDoesNotFit) {
  // Just too small for pref_address + init_size, but enough from the first aligned address.
  uint64_t mem = align_up(pref_address_ + init_size_, kMiB) - kMiB;
  uint64_t relocated = align_up(uint64_t{0x100000}, kernel_alignment_);
  ASSERT_LE(relocated + init_size_, mem);
  auto ram = testing::make_ram(mem);
  BootResult r = load_kernel(*ram, request("", kMiB));
  EXPECT_EQ(r.bsp.rip, relocated + 0x200);
  EXPECT_EQ(ram->load<uint32_t>(kZeroPage + 0x214), relocated);
  EXPECT_GE(ram->load<uint32_t>(kZeroPage + 0x218), relocated + init_size_);
}

TEST_F(RealKernelTest, CmdlineSizeIsEnforced) {
  auto ram = testing::make_ram(512 * kMiB);
  load_kernel(*ram, request(std::string(cmdline_size_, 'a'), 0));
  EXPECT_EQ(read_guest_string(*ram, ram->load<uint32_t>(kZeroPage + 0x228)).size(), cmdline_size_);
  EXPECT_THAT([&] { load_kernel(*ram, request(std::string(cmdline_size_ + 1, 'a'), 0)); },
              ThrowsMessage<Error>(HasSubstr("cmdline_size")));
}

TEST_F(RealKernelTest, TooLittleRamIsAnError) {
  auto ram = testing::make_ram(32 * kMiB);
  EXPECT_THAT([&] { load_kernel(*ram, request("", 0)); },
              ThrowsMessage<Error>(HasSubstr("init_size")));
}

}  // namespace
}  // namespace tandem::x86
