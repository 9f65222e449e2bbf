// Boots the freestanding test guests (tests/guests/x86) in Tandem's KVM x86 machine and checks
// their exit status (isa-debug-exit) and console output.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "tests/integration/tandem_runner.h"

namespace tandem::testing {
namespace {

using ::testing::HasSubstr;

class X86GuestTest : public TandemTest {
 protected:
  void SetUp() override {
    TandemTest::SetUp();
    if (!have_kvm()) GTEST_SKIP() << "/dev/kvm not accessible";
  }

  // An initrd with a recognisable head and pseudo-random rest; size not a multiple of 4 KiB.
  std::string make_initrd(size_t size) {
    std::string data = "TANDEM-INITRD-v1";
    uint32_t x = 12345;
    while (data.size() < size) {
      x = x * 1103515245 + 12345;
      data.push_back(static_cast<char>(x >> 16));
    }
    data.resize(size);
    initrd_ = data;
    return write_file("initrd.img", data);
  }

  std::string initrd_expectations() const {
    char crc[32];
    std::snprintf(crc, sizeof crc, "0x%08x", crc32_ieee(initrd_));
    return "expect_initrd_size=" + std::to_string(initrd_.size()) + " expect_initrd_crc=" + crc;
  }

  void boot_params_case(const std::string& image, const std::string& protocol,
                        const std::string& memory) {
    std::string initrd = make_initrd(100003);
    std::string cmdline = "console=ttyS0 marker=tandem-42 expect_mem=" + memory + " " +
                          initrd_expectations() + " expect_protocol=" + protocol;
    auto r = tandem({"run", "--accel", "kvm", "--kernel", guest_image(image), "--initrd", initrd,
                     "--append", cmdline, "--memory", memory, "--cpus", "1"});
    ASSERT_EQ(r.exit_code, kGuestSuccess) << r.describe();
    EXPECT_THAT(r.out, HasSubstr("boot: protocol " + protocol)) << r.describe();
    // Multiboot loaders may put the kernel's name in front (QEMU does); the rest must be exact.
    if (protocol == "multiboot") {
      EXPECT_THAT(r.out, HasSubstr(cmdline + "\"")) << r.describe();
    } else {
      EXPECT_THAT(r.out, HasSubstr("boot: cmdline \"" + cmdline + "\"")) << r.describe();
    }
    EXPECT_THAT(r.out, HasSubstr("size " + std::to_string(initrd_.size()))) << r.describe();
    EXPECT_THAT(r.out, HasSubstr("boot: initrd head 54 41 4e 44 45 4d 2d 49")) << r.describe();
    EXPECT_THAT(r.out, HasSubstr("boot: all checks passed")) << r.describe();
  }

  std::string initrd_;
};

TEST_F(X86GuestTest, BootParamsBzImage) {
  boot_params_case("boot_params.bzImage", "bzImage", "512M");
}

TEST_F(X86GuestTest, BootParamsPvh) {
  boot_params_case("boot_params.elf", "pvh", "512M");
}

TEST_F(X86GuestTest, BootParamsMultiboot) {
  boot_params_case("boot_params.multiboot", "multiboot", "512M");
}

TEST_F(X86GuestTest, BootParamsBzImageOddMemorySize) {
  boot_params_case("boot_params.bzImage", "bzImage", "333M");
}

// Above the 32-bit MMIO hole: part of RAM moves above 4 GiB, the map must still add up.
TEST_F(X86GuestTest, BootParamsBzImageAcrossThe4GiBHole) {
  boot_params_case("boot_params.bzImage", "bzImage", "5G");
}

TEST_F(X86GuestTest, BootParamsWrongExpectationFails) {
  // The guest's checks are real: a wrong expected size makes it fail.
  make_initrd(5000);
  std::string initrd = dir_ + "/initrd.img";
  auto r = tandem({"run", "--accel", "kvm", "--kernel", guest_image("boot_params.bzImage"),
                   "--initrd", initrd, "--append", "expect_initrd_size=4999", "--memory", "256M"});
  EXPECT_EQ(r.exit_code, kGuestCheckFailed) << r.describe();
  EXPECT_THAT(r.out, HasSubstr("CHECK FAILED")) << r.describe();
}

TEST_F(X86GuestTest, SmpFourCpusPvh) {
  auto r = tandem({"run", "--accel", "kvm", "--kernel", guest_image("smp.elf"), "--append",
                   "expect_cpus=4", "--memory", "256M", "--cpus", "4"});
  ASSERT_EQ(r.exit_code, kGuestSuccess) << r.describe();
  EXPECT_THAT(r.out, HasSubstr("smp: madt lists 4 cpus")) << r.describe();
  EXPECT_THAT(r.out, HasSubstr("smp: 4 cpus up")) << r.describe();
}

TEST_F(X86GuestTest, SmpTwoCpusBzImage) {
  auto r = tandem({"run", "--accel", "kvm", "--kernel", guest_image("smp.bzImage"), "--append",
                   "expect_cpus=2", "--memory", "256M", "--cpus", "2"});
  ASSERT_EQ(r.exit_code, kGuestSuccess) << r.describe();
  EXPECT_THAT(r.out, HasSubstr("smp: 2 cpus up")) << r.describe();
}

TEST_F(X86GuestTest, SmpOneCpu) {
  auto r = tandem({"run", "--accel", "kvm", "--kernel", guest_image("smp.elf"), "--append",
                   "expect_cpus=1", "--memory", "128M", "--cpus", "1"});
  ASSERT_EQ(r.exit_code, kGuestSuccess) << r.describe();
  EXPECT_THAT(r.out, HasSubstr("smp: 1 cpus up")) << r.describe();
}

TEST_F(X86GuestTest, UartInputByInterrupts) {
  CommandOptions o;
  o.input = "hello tandem\nline two\nbye#";
  auto r = tandem(
      {"run", "--accel", "kvm", "--kernel", guest_image("uart.bzImage"), "--memory", "128M"}, o);
  ASSERT_EQ(r.exit_code, kGuestSuccess) << r.describe();
  auto lines = split_lines(r.out);
  auto find = [&](const std::string& l) { return std::find(lines.begin(), lines.end(), l); };
  auto first = find("HELLO TANDEM");
  ASSERT_NE(first, lines.end()) << r.describe();
  ASSERT_LT(first + 2, lines.end()) << r.describe();
  EXPECT_EQ(first[1], "LINE TWO") << r.describe();
  EXPECT_EQ(first[2], "BYE") << r.describe();
  EXPECT_THAT(r.out, HasSubstr("uart: 25 chars")) << r.describe();
}

TEST_F(X86GuestTest, ExitsToTestDevice) {
  auto r = tandem({"run", "--accel", "kvm", "--kernel", guest_image("exits.bzImage"), "--memory",
                   "128M", "-device", "tandem-testdev"});
  ASSERT_EQ(r.exit_code, kGuestSuccess) << r.describe();
  EXPECT_THAT(r.out, HasSubstr("exits: pio ok")) << r.describe();
  EXPECT_THAT(r.out, HasSubstr("exits: mmio ok")) << r.describe();
  EXPECT_THAT(r.out, HasSubstr("exits: doorbell ok (1000 notifications)")) << r.describe();
  EXPECT_THAT(r.out, HasSubstr("exits: all checks passed")) << r.describe();
}

TEST_F(X86GuestTest, ExitsPvh) {
  auto r = tandem({"run", "--accel", "kvm", "--kernel", guest_image("exits.elf"), "--memory",
                   "128M", "-device", "tandem-testdev"});
  ASSERT_EQ(r.exit_code, kGuestSuccess) << r.describe();
  EXPECT_THAT(r.out, HasSubstr("exits: all checks passed")) << r.describe();
}

// bench/exits's guest side, small: every kind timed in blocks, each printing its fastest and
// median block, and the device's counters checked after the loops.
TEST_F(X86GuestTest, ExitsBenchModeTimesEveryKindInBlocks) {
  auto r = tandem({"run", "--accel", "kvm", "--kernel", guest_image("exits.elf"), "--memory", "64M",
                   "-device", "tandem-testdev", "--append", "bench iters=203 blocks=4"});
  ASSERT_EQ(r.exit_code, kGuestSuccess) << r.describe();
  for (const char* kind : {"pio_write", "pio_read", "mmio_write", "mmio_read", "ioeventfd"}) {
    // 203 exits in 4 blocks: 50 per block, 200 in all.
    EXPECT_THAT(r.out, ::testing::ContainsRegex(std::string("bench ") + kind +
                                                " iters=200 blocks=4 cycles_per_exit=[0-9.]+ "
                                                "ns_per_exit=[0-9.]+ median_ns=[0-9.]+ "))
        << r.describe();
  }
  EXPECT_THAT(r.out, HasSubstr("bench done")) << r.describe();
}

TEST_F(X86GuestTest, NoTestDeviceUnlessAsked) {
  auto r =
      tandem({"run", "--accel", "kvm", "--kernel", guest_image("exits.elf"), "--memory", "128M"});
  EXPECT_EQ(r.exit_code, kGuestCheckFailed) << r.describe();
  EXPECT_THAT(r.out, HasSubstr("PIO ID reads 0xffffffff")) << r.describe();
}

TEST_F(X86GuestTest, TripleFaultEndsWithRegisterDump) {
  CommandOptions o;
  o.timeout = std::chrono::seconds(30);
  auto r = tandem(
      {"run", "--accel", "kvm", "--kernel", guest_image("triple_fault.elf"), "--memory", "64M"}, o);
  ASSERT_FALSE(r.timed_out) << r.describe();
  ASSERT_TRUE(r.exited) << r.describe();
  EXPECT_NE(r.exit_code, 0) << r.describe();
  EXPECT_NE(r.exit_code, kGuestSuccess) << r.describe();
  EXPECT_THAT(r.out, HasSubstr("triple-fault: loading an empty IDT")) << r.describe();
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("still running"))) << r.describe();
  std::string err = r.err;
  std::transform(err.begin(), err.end(), err.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  EXPECT_THAT(err, HasSubstr("rip")) << r.describe();
  EXPECT_THAT(err, HasSubstr("rsp")) << r.describe();
}

}  // namespace
}  // namespace tandem::testing
