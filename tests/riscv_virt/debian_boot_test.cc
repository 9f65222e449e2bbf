// Boots Debian's riscv64 kernel (fetched by scripts/fetch-riscv-guest.sh) through OpenSBI on the
// virt machine with the default guest's initramfs, whose /init runs a script instead of the
// shell, and checks what the guest saw: the architecture, the harts, the date from the goldfish
// RTC, the virtio modules loaded, and poweroff ending the VM with status 0.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "machine/riscv/default_guest.h"
#include "machine/riscv/initramfs/initramfs_builder.h"
#include "machine/riscv/virt_machine.h"
#include "virt_test_util.h"

namespace tandem::riscv {
namespace {

using testing::run_with_timeout;
using testing::slurp;

namespace fs = std::filesystem;

TEST(DebianBoot, ShellCommandsAndPoweroff) {
  const fs::path dir = default_guest_dir();
  ASSERT_TRUE(fs::exists(dir / "Image") && fs::exists(dir / "busybox"))
      << dir << " is not fetched: scripts/test.sh runs scripts/fetch-riscv-guest.sh";
  const fs::path work =
      fs::temp_directory_path() / ("tandem-debian-boot-" + std::to_string(getpid()));
  fs::create_directories(work);

  InitramfsOptions options;
  options.busybox = (dir / "busybox").string();
  options.modules_dir = (dir / "modules").string();
  options.autorun =
      "echo ARCH=$(uname -m)\n"
      "echo HARTS=$(grep -c '^processor' /proc/cpuinfo)\n"
      "echo EPOCH=$(date +%s)\n"
      "echo MODULES=$(lsmod | grep -c virtio)\n"
      "poweroff -f\n";
  const std::vector<uint8_t> cpio = build_initramfs(options);
  {
    std::ofstream f(work / "initrd.cpio", std::ios::binary);
    f.write(reinterpret_cast<const char*>(cpio.data()), static_cast<std::streamsize>(cpio.size()));
  }

  MachineConfig c;
  c.machine = MachineKind::kRiscvVirt;
  c.accel = AccelKind::kTcg;
  c.memory_bytes = 512ull << 20;
  c.cpus = 2;
  c.bios = (dir / "fw_jump.bin").string();
  c.kernel = (dir / "Image").string();
  c.initrd = (work / "initrd.cpio").string();
  c.append = "console=ttyS0";
  c.serials = {SerialConfig{"file:" + (work / "console.log").string()}};
  const std::time_t before = std::time(nullptr);
  int status;
  {
    VirtMachine machine(c);
    status = run_with_timeout(machine, std::chrono::seconds(600));
  }
  const std::time_t after = std::time(nullptr);
  const std::string out = slurp(work / "console.log");
  fs::remove_all(work);

  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("ARCH=riscv64"), std::string::npos) << out;
  EXPECT_NE(out.find("HARTS=2"), std::string::npos) << out;
  EXPECT_NE(out.find("reboot: Power down"), std::string::npos) << out;
  // The guest's clock comes from the goldfish RTC: the host's time while it ran.
  const size_t at = out.find("EPOCH=");
  ASSERT_NE(at, std::string::npos) << out;
  const long epoch = std::stol(out.substr(at + 6));
  EXPECT_GE(epoch, before - 2) << out;
  EXPECT_LE(epoch, after + 2) << out;
  const size_t mods = out.find("MODULES=");
  ASSERT_NE(mods, std::string::npos) << out;
  EXPECT_GE(std::stoi(out.substr(mods + 8)), 2) << out;  // virtio_mmio and its users
}

}  // namespace
}  // namespace tandem::riscv
