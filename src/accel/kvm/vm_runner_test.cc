#include "accel/kvm/vm_runner.h"

#include <gtest/gtest.h>

#include "accel/kvm/exit_status.h"
#include "base/error.h"

namespace tandem::kvm {
namespace {

TEST(VmRunner, FirstExitStatusWins) {
  IoBus pio("pio"), mmio("mmio");
  VmRunner runner(pio, mmio, true);
  EXPECT_FALSE(runner.stopping());
  EXPECT_FALSE(runner.exit_status());
  runner.request_exit(5);
  runner.request_exit(7);
  runner.request_reset();
  EXPECT_TRUE(runner.stopping());
  EXPECT_EQ(runner.exit_status(), 5);
}

TEST(VmRunner, ResetExitsWithZero) {
  IoBus pio("pio"), mmio("mmio");
  VmRunner runner(pio, mmio, true);
  runner.request_reset();
  EXPECT_EQ(runner.exit_status(), kExitPoweredOff);
  runner.request_exit(9);
  EXPECT_EQ(runner.exit_status(), 0);
}

TEST(VmRunner, RunWithoutVcpusIsAnError) {
  IoBus pio("pio"), mmio("mmio");
  VmRunner runner(pio, mmio, true);
  EXPECT_THROW(runner.run(), Error);
}

}  // namespace
}  // namespace tandem::kvm
