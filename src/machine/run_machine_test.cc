#include "machine/run_machine.h"

#include <stdlib.h>
#include <unistd.h>

#include <cstdlib>

#include <gtest/gtest.h>
#include <unistd.h>

#include "base/error.h"

namespace tandem {
namespace {

// Configuration errors are reported before /dev/kvm is touched, as one line.
std::string error_of(const MachineConfig& config) {
  try {
    run_machine(config);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(RunMachine, RejectsTcgForX86) {
  MachineConfig c;
  c.kernel = "/nonexistent/vmlinuz";
  c.accel = AccelKind::kTcg;
  EXPECT_EQ(error_of(c), "x86 guests need --accel kvm");
}

TEST(RunMachine, RiscvNeedsFirmwareAndARealKernel) {
  MachineConfig c;
  c.machine = MachineKind::kRiscvVirt;
  c.serials = {SerialConfig{"none"}};
  c.kernel = "/nonexistent/Image";
  EXPECT_NE(error_of(c).find("needs firmware"), std::string::npos);
  c.bios = "/nonexistent/fw_jump.bin";
  EXPECT_EQ(error_of(c), "cannot open firmware '/nonexistent/fw_jump.bin'");
}

TEST(RunMachine, DefaultGuestMissingNamesTheFetchScript) {
  char dir[] = "/tmp/tandem-empty-cache-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const char* old = std::getenv("TANDEM_CACHE");
  std::string saved = old ? old : "";
  ::setenv("TANDEM_CACHE", dir, 1);
  MachineConfig c;
  c.machine = MachineKind::kRiscvVirt;
  c.accel = AccelKind::kTcg;
  c.serials = {SerialConfig{"none"}};
  std::string err = error_of(c);
  if (old) {
    ::setenv("TANDEM_CACHE", saved.c_str(), 1);
  } else {
    ::unsetenv("TANDEM_CACHE");
  }
  ::rmdir(dir);
  EXPECT_NE(err.find("scripts/fetch-riscv-guest.sh"), std::string::npos) << err;
  EXPECT_NE(err.find("fw_jump.bin"), std::string::npos) << err;
}

TEST(RunMachine, BadSizesAreNamed) {
  MachineConfig c;
  c.kernel = "/nonexistent/vmlinuz";
  c.memory_bytes = 1 << 20;
  EXPECT_NE(error_of(c).find("too small"), std::string::npos);
  c.memory_bytes = 64 << 20;
  c.cpus = 0;
  EXPECT_EQ(error_of(c), "the number of CPUs must be at least 1");
}

TEST(RunMachine, MissingKernelFileIsAnError) {
  if (::access("/dev/kvm", R_OK | W_OK) != 0) GTEST_SKIP() << "needs /dev/kvm";
  MachineConfig c;
  c.kernel = "/nonexistent/vmlinuz";
  c.memory_bytes = 64 << 20;
  c.nodefaults = true;
  std::string err = error_of(c);
  EXPECT_NE(err.find("/nonexistent/vmlinuz"), std::string::npos) << err;
}

}  // namespace
}  // namespace tandem
