// The virt machine end to end, in-process: a bare-metal privileged-ISA test in M and S mode,
// OpenSBI booting an S-mode payload that powers off through SBI, and bad input.
#include "machine/riscv/virt_machine.h"
#include "virt_test_util.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "base/error.h"

namespace tandem::riscv {
namespace {

using testing::run_with_timeout;
using testing::slurp;

std::string guest(const char* name) {
  return std::string(VIRT_GUEST_DIR) + "/" + name;
}

std::string cache_file(const char* name) {
  const char* cache = std::getenv("TANDEM_CACHE");
  const char* home = std::getenv("HOME");
  std::string dir = cache ? cache : std::string(home ? home : "/root") + "/.cache/tandem";
  return dir + "/riscv64/" + name;
}

bool exists(const std::string& path) {
  return ::access(path.c_str(), R_OK) == 0;
}

MachineConfig base_config(AccelKind accel = AccelKind::kTcg) {
  MachineConfig c;
  c.machine = MachineKind::kRiscvVirt;
  c.accel = accel;
  c.memory_bytes = 128ull << 20;
  c.serials = {SerialConfig{"none"}};
  return c;
}

// Bare-metal guests run under the translator (tcg) and the reference interpreter (interp).
class VirtEngines : public ::testing::TestWithParam<AccelKind> {};

int run_bare_metal(AccelKind accel, const char* binary) {
  MachineConfig c = base_config(accel);
  c.bios = "none";
  c.kernel = guest(binary);
  VirtMachine machine(c);
  return run_with_timeout(machine, std::chrono::seconds(30));
}

// The exit status is the number of the first failing step (see guest/priv_test.S).
TEST_P(VirtEngines, PrivilegedIsaBareMetal) {
  EXPECT_EQ(run_bare_metal(GetParam(), "priv_test.bin"), 0);
}

// Self-modifying and remapped code, MMIO, FS, atomics, page-crossing instructions and precise
// faults (guest/tcg_test.S).
TEST_P(VirtEngines, FullSystemTranslationBareMetal) {
  EXPECT_EQ(run_bare_metal(GetParam(), "tcg_test.bin"), 0);
}

// Two harts round-robin: the second parks in WFI (--bios none starts both at the image).
TEST_P(VirtEngines, TwoHartsBareMetal) {
  MachineConfig c = base_config(GetParam());
  c.bios = "none";
  c.cpus = 2;
  c.kernel = guest("tcg_test.bin");
  VirtMachine machine(c);
  EXPECT_EQ(run_with_timeout(machine, std::chrono::seconds(30)), 0);
}

INSTANTIATE_TEST_SUITE_P(Engines, VirtEngines,
                         ::testing::Values(AccelKind::kTcg, AccelKind::kInterp),
                         [](const auto& info) {
                           return std::string(info.param == AccelKind::kTcg ? "tcg" : "interp");
                         });

void boot_opensbi(const char* firmware) {
  const std::string fw = cache_file(firmware);
  if (!exists(fw))
    FAIL() << fw << " missing: scripts/test.sh fetches it (scripts/fetch-riscv-guest.sh)";
  char log[] = "/tmp/tandem-virt-uart-XXXXXX";
  const int fd = mkstemp(log);
  ASSERT_GE(fd, 0);
  close(fd);
  MachineConfig c = base_config();
  c.bios = fw;
  c.kernel = guest("sbi_payload.bin");
  c.serials = {SerialConfig{std::string("file:") + log}};
  int status;
  {
    VirtMachine machine(c);
    status = run_with_timeout(machine, std::chrono::seconds(60));
  }
  const std::string out = slurp(log);
  unlink(log);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("OpenSBI v"), std::string::npos) << out;
  EXPECT_NE(out.find("Domain0 Next Mode           : S-mode"), std::string::npos) << out;
  EXPECT_NE(out.find("tandem: hello from S-mode"), std::string::npos) << out;
}

TEST(VirtMachine, OpenSbiFwJumpBootsPayloadAndPowersOff) {
  boot_opensbi("fw_jump.bin");
}

TEST(VirtMachine, OpenSbiFwDynamicBootsPayloadAndPowersOff) {
  boot_opensbi("fw_dynamic.bin");
}

std::string error_of(const MachineConfig& c) {
  try {
    VirtMachine machine(c);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(VirtMachine, BadInputIsNamed) {
  MachineConfig c = base_config();
  EXPECT_NE(error_of(c).find("needs firmware"), std::string::npos);
  c.bios = "/nonexistent/fw.bin";
  EXPECT_EQ(error_of(c), "cannot open firmware '/nonexistent/fw.bin'");
  c.bios = guest("priv_test.bin");  // any small file will do as firmware
  c.kernel = "/nonexistent/Image";
  EXPECT_EQ(error_of(c), "cannot open kernel '/nonexistent/Image'");
  // An x86 bzImage: "HdrS" at 0x202.
  char path[] = "/tmp/tandem-bzimage-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string bz(0x400, '\0');
  bz.replace(0x202, 4, "HdrS");
  ASSERT_EQ(write(fd, bz.data(), bz.size()), static_cast<ssize_t>(bz.size()));
  close(fd);
  c.kernel = path;
  EXPECT_NE(error_of(c).find("is an x86 bzImage"), std::string::npos);
  // Not an Image at all.
  std::ofstream(path, std::ios::trunc) << std::string(0x100, 'x');
  EXPECT_NE(error_of(c).find("not a RISC-V Linux Image"), std::string::npos);
  unlink(path);
  // The payload is a valid Image: accepted.
  c.kernel = guest("sbi_payload.bin");
  EXPECT_EQ(error_of(c), "(no error)");
}

}  // namespace
}  // namespace tandem::riscv
