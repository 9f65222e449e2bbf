#include "machine/x86/x86_memory_map.h"

#include <gtest/gtest.h>

#include "base/error.h"

namespace tandem::x86 {
namespace {

constexpr uint64_t MiB = 1ull << 20;
constexpr uint64_t GiB = 1ull << 30;

TEST(RamLayout, SmallMemoryIsAllBelowTheHole) {
  auto l = ram_layout(512 * MiB);
  EXPECT_EQ(l.below_4g, 512 * MiB);
  EXPECT_EQ(l.above_4g, 0u);
}

TEST(RamLayout, SplitsAroundTheHole) {
  auto l = ram_layout(3 * GiB);
  EXPECT_EQ(l.below_4g, 3 * GiB);
  EXPECT_EQ(l.above_4g, 0u);
  l = ram_layout(5 * GiB + 4096);
  EXPECT_EQ(l.below_4g, 3 * GiB);
  EXPECT_EQ(l.above_4g, 2 * GiB + 4096);
}

TEST(RamLayout, RegionsLandAtZeroAndFourGiB) {
  GuestRam ram;
  add_ram_regions(ram, ram_layout(3 * GiB + 64 * MiB));
  ASSERT_EQ(ram.regions().size(), 2u);
  EXPECT_EQ(ram.regions()[0].gpa, 0u);
  EXPECT_EQ(ram.regions()[0].size, 3 * GiB);
  EXPECT_EQ(ram.regions()[1].gpa, 4 * GiB);
  EXPECT_EQ(ram.regions()[1].size, 64 * MiB);
  EXPECT_FALSE(ram.contains(3 * GiB, 1));     // the hole
  EXPECT_FALSE(ram.contains(0xfee00000, 4));  // LAPIC
  EXPECT_TRUE(ram.contains(4 * GiB + 64 * MiB - 1, 1));
}

std::string error_of(const MachineConfig& config, HostLimits host = {32 * GiB, 1024}) {
  try {
    validate_config(config, host);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

MachineConfig good_config() {
  MachineConfig c;
  c.kernel = "/boot/vmlinuz";
  return c;
}

TEST(ValidateConfig, AcceptsAGoodConfig) {
  EXPECT_EQ(error_of(good_config()), "");
}

TEST(ValidateConfig, Accelerator) {
  auto c = good_config();
  c.accel = AccelKind::kTcg;
  EXPECT_EQ(error_of(c), "x86 guests need --accel kvm");
}

TEST(ValidateConfig, MemorySize) {
  auto c = good_config();
  c.memory_bytes = 0;
  EXPECT_NE(error_of(c).find("memory size is 0"), std::string::npos);
  c.memory_bytes = 8 * MiB;
  EXPECT_NE(error_of(c).find("too small"), std::string::npos) << error_of(c);
  c.memory_bytes = 16 * MiB;
  EXPECT_EQ(error_of(c), "");
  c.memory_bytes = 64 * GiB;
  EXPECT_EQ(error_of(c), "memory size 65536 MiB is more than this host's 32768 MiB of RAM");
  c.memory_bytes = 16 * MiB + 100;
  EXPECT_NE(error_of(c).find("multiple of 4 KiB"), std::string::npos);
}

TEST(ValidateConfig, CpuCount) {
  auto c = good_config();
  c.cpus = 0;
  EXPECT_EQ(error_of(c), "the number of CPUs must be at least 1");
  c.cpus = 8;
  EXPECT_EQ(error_of(c, {32 * GiB, 4}), "8 CPUs requested but KVM on this host allows at most 4");
  c.cpus = 256;
  EXPECT_NE(error_of(c).find("at most 255"), std::string::npos);
  c.cpus = 255;
  EXPECT_EQ(error_of(c), "");
}

TEST(ValidateConfig, Kernel) {
  MachineConfig c;
  EXPECT_NE(error_of(c).find("no kernel given"), std::string::npos);
  c.bios = "bios.bin";
  EXPECT_NE(error_of(c).find("-bios"), std::string::npos);
}

TEST(ValidateConfig, MessagesAreOneLine) {
  auto c = good_config();
  c.memory_bytes = 1;
  EXPECT_EQ(error_of(c).find('\n'), std::string::npos);
}

}  // namespace
}  // namespace tandem::x86
