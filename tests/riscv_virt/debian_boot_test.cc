// Boots Debian's riscv64 kernel (fetched by scripts/fetch-riscv-guest.sh) through OpenSBI on the
// virt machine with the default guest's initramfs, whose /init runs a script instead of the
// shell, and checks what the guest saw. A boot takes seconds on the translator (minutes on the
// interpreter), so one boot checks as much as it can:
//  - the architecture, two harts online, the date from the goldfish RTC, the virtio modules;
//  - virtio-rng: /dev/hwrng is the virtio device and two reads differ;
//  - virtio-console: /dev/hvc0 exists and what the guest writes there reaches the host file;
//  - virtio-blk: the default init mounts the ext4 disk at /mnt/vda; the guest reads a file the
//    host put there and writes one the host reads back afterwards, and runs a program from the
//    disk before and after dropping the page cache (code that arrived by DMA);
//  - poweroff -f ends the VM with status 0.
// A second, smaller boot has its console on hvc0 alone and checks that reboot -f ends the VMM
// with status 0 too (QEMU -no-reboot). A third runs the tandem binary, lets the guest fsync a
// file on its disk and SIGKILLs the VMM: the data is in the image.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <regex>
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

// Runs a shell command on the host; its standard output (a test failure when it fails).
std::string host(const std::string& command) {
  FILE* p = popen(command.c_str(), "r");
  if (!p) return "";
  std::string out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  EXPECT_EQ(pclose(p), 0) << command << ": " << out;
  return out;
}

class DebianBoot : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = default_guest_dir();
    ASSERT_TRUE(fs::exists(dir_ / "Image") && fs::exists(dir_ / "busybox"))
        << dir_ << " is not fetched: scripts/test.sh runs scripts/fetch-riscv-guest.sh";
    work_ = fs::temp_directory_path() / ("tandem-debian-boot-" + std::to_string(getpid()));
    fs::create_directories(work_);
  }
  void TearDown() override { fs::remove_all(work_); }

  // A machine running `autorun` from the default initramfs, its console in a file.
  MachineConfig config(const std::string& autorun) {
    InitramfsOptions options;
    options.busybox = (dir_ / "busybox").string();
    options.modules_dir = (dir_ / "modules").string();
    options.autorun = autorun;
    const std::vector<uint8_t> cpio = build_initramfs(options);
    std::ofstream f(work_ / "initrd.cpio", std::ios::binary);
    f.write(reinterpret_cast<const char*>(cpio.data()), static_cast<std::streamsize>(cpio.size()));

    MachineConfig c;
    c.machine = MachineKind::kRiscvVirt;
    c.accel = AccelKind::kTcg;
    c.memory_bytes = 512ull << 20;
    c.bios = (dir_ / "fw_jump.bin").string();
    c.kernel = (dir_ / "Image").string();
    c.initrd = (work_ / "initrd.cpio").string();
    c.append = "console=ttyS0";
    c.serials = {SerialConfig{"file:" + console_path()}};
    return c;
  }
  std::string console_path() const { return (work_ / "console.log").string(); }

  fs::path dir_, work_;
};

std::string value_of(const std::string& out, const std::string& key) {
  std::smatch m;
  if (!std::regex_search(out, m, std::regex(key + "=([^\\r\\n]*)"))) return "<missing>";
  return m[1];
}

TEST_F(DebianBoot, ShellVirtioDevicesAndPoweroff) {
  // The disk: ext4 with a file from the host (mke2fs -d fills it from a folder).
  const fs::path files = work_ / "disk-files";
  fs::create_directories(files);
  std::ofstream(files / "hello.txt") << "hello from the host\n";
  // A program on the disk: its code reaches guest RAM by DMA (the translator must drop what it
  // translated from those pages before: Linux's fence.i before mapping them executable).
  fs::copy_file(dir_ / "busybox", files / "busybox");
  fs::permissions(files / "busybox", fs::perms::owner_exec, fs::perm_options::add);
  const std::string image = (work_ / "disk.img").string();
  host("mkfs.ext4 -q -F -d " + files.string() + " " + image + " 16M 2>&1");
  const std::string hvc = (work_ / "hvc0.log").string();

  MachineConfig c = config(
      "echo ARCH=$(uname -m)\n"
      "echo HARTS=$(grep -c '^processor' /proc/cpuinfo)\n"
      "echo EPOCH=$(date +%s)\n"
      "echo MODULES=$(lsmod | grep -c virtio)\n"
      "echo RNG_CURRENT=$(cat /sys/class/misc/hw_random/rng_current)\n"
      "echo RNG1=$(head -c 32 /dev/hwrng | od -An -tx1 | tr -d ' \\n')\n"
      "echo RNG2=$(head -c 32 /dev/hwrng | od -An -tx1 | tr -d ' \\n')\n"
      "echo 'text for the host on hvc0' > /dev/hvc0 && echo HVC=written\n"
      "echo DISK=$(cat /mnt/vda/hello.txt)\n"
      "echo DISK_EXEC1=$(/mnt/vda/busybox echo from-disk)\n"
      "echo 3 > /proc/sys/vm/drop_caches\n"
      "cat /mnt/vda/hello.txt > /dev/null\n"
      "echo DISK_EXEC2=$(/mnt/vda/busybox uname -m)$(/mnt/vda/busybox expr 6 \\* 7)\n"
      "echo 'written by the guest' > /mnt/vda/from-guest.txt && sync && echo DISK_WRITE=ok\n"
      "umount /mnt/vda && echo UMOUNT=ok\n"
      "poweroff -f\n");
  c.cpus = 2;
  // As -device virtio-rng-device -device virtio-console,backend=file:... -drive file=disk.img
  c.virtio_devices = {{VirtioDeviceConfig::Kind::kRng, {}, {}},
                      {VirtioDeviceConfig::Kind::kConsole, {}, "file:" + hvc},
                      {VirtioDeviceConfig::Kind::kBlk, "drive0", {}}};
  DriveConfig drive;
  drive.id = "drive0";
  drive.file = image;
  c.drives = {drive};

  const std::time_t before = std::time(nullptr);
  int status;
  {
    VirtMachine machine(c);
    status = run_with_timeout(machine, std::chrono::seconds(600));
  }
  const std::time_t after = std::time(nullptr);
  const std::string out = slurp(console_path());

  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("tandem-init: started"), std::string::npos) << out;
  EXPECT_EQ(value_of(out, "ARCH"), "riscv64") << out;
  EXPECT_EQ(value_of(out, "HARTS"), "2") << out;
  EXPECT_NE(out.find("reboot: Power down"), std::string::npos) << out;
  // The guest's clock comes from the goldfish RTC: the host's time while it ran.
  const long epoch = std::atol(value_of(out, "EPOCH").c_str());
  EXPECT_GE(epoch, before - 2) << out;
  EXPECT_LE(epoch, after + 2) << out;
  EXPECT_GE(std::atoi(value_of(out, "MODULES").c_str()), 3) << out;  // mmio, rng, blk

  // virtio-rng feeds /dev/hwrng: 32 bytes each time, not the same twice.
  EXPECT_NE(value_of(out, "RNG_CURRENT").find("virtio_rng"), std::string::npos) << out;
  const std::string rng1 = value_of(out, "RNG1"), rng2 = value_of(out, "RNG2");
  EXPECT_TRUE(std::regex_match(rng1, std::regex("[0-9a-f]{64}"))) << out;
  EXPECT_TRUE(std::regex_match(rng2, std::regex("[0-9a-f]{64}"))) << out;
  EXPECT_NE(rng1, rng2) << out;

  // virtio-console: the guest's /dev/hvc0 ends in the host's file.
  EXPECT_EQ(value_of(out, "HVC"), "written") << out;
  EXPECT_NE(slurp(hvc).find("text for the host on hvc0"), std::string::npos) << slurp(hvc);

  // virtio-blk: the init mounted the disk and said so; both directions of data went through.
  EXPECT_NE(out.find("Disks: /dev/vda on /mnt/vda;"), std::string::npos) << out;
  EXPECT_EQ(value_of(out, "DISK"), "hello from the host") << out;
  EXPECT_EQ(value_of(out, "DISK_EXEC1"), "from-disk") << out;
  EXPECT_EQ(value_of(out, "DISK_EXEC2"), "riscv6442") << out;
  EXPECT_EQ(value_of(out, "DISK_WRITE"), "ok") << out;
  EXPECT_EQ(value_of(out, "UMOUNT"), "ok") << out;
  EXPECT_EQ(host("debugfs -R 'cat /from-guest.txt' " + image + " 2>/dev/null"),
            "written by the guest\n");
  EXPECT_EQ(host("e2fsck -fn " + image + " >/dev/null 2>&1 && echo clean"), "clean\n");
}

// reboot -f ends the VMM with status 0, as QEMU's -no-reboot does. This boot also has its
// What the guest fsync'd is in the image even when the VMM is killed right after: the tandem
// binary runs the guest, the test SIGKILLs it once the guest reports the fsync done.
TEST_F(DebianBoot, FsyncedDataSurvivesSigkill) {
  const std::string image = (work_ / "durable.img").string();
  host("mkfs.ext4 -q -F " + image + " 16M 2>&1");
  config(
      "echo 'fsynced by the guest' | dd of=/mnt/vda/durable.txt conv=fsync 2>/dev/null && "
      "echo FSYNCED=ok\n"
      "sleep 600\n");
  const std::string console = console_path();
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string serial = "file:" + console, drive = "file=" + image + ",format=raw";
    const std::string fw = (dir_ / "fw_jump.bin").string(), kernel = (dir_ / "Image").string();
    const std::string initrd = (work_ / "initrd.cpio").string();
    execl(TANDEM_BIN, TANDEM_BIN, "run", "-M", "virt", "-bios", fw.c_str(), "-kernel",
          kernel.c_str(), "-initrd", initrd.c_str(), "-append", "console=ttyS0", "-m", "512M",
          "-serial", serial.c_str(), "-drive", drive.c_str(), "-display", "none",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  bool fsynced = false;
  for (int i = 0; i < 3000 && !fsynced; ++i) {  // 300 s
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    fsynced = slurp(console).find("FSYNCED=ok") != std::string::npos;
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) break;  // died early
  }
  kill(pid, SIGKILL);
  int st = 0;
  waitpid(pid, &st, 0);
  ASSERT_TRUE(fsynced) << slurp(console);
  EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  // The filesystem was not unmounted: replay its journal first, as a mount would.
  host("e2fsck -fy " + image + " >/dev/null 2>&1; true");
  EXPECT_EQ(host("debugfs -R 'cat /durable.txt' " + image + " 2>/dev/null"),
            "fsynced by the guest\n");
}

// console on a virtio console instead of the UART (-serial none -device virtio-console
// -append console=hvc0): the init attaches to it once virtio_mmio is loaded.
TEST_F(DebianBoot, ConsoleOnHvc0AndRebootEndsTheVm) {
  MachineConfig c = config("echo CONSOLE=$(tty)\nreboot -f\n");
  const std::string hvc = (work_ / "hvc0.log").string();
  c.append = "console=hvc0 quiet";
  c.serials = {SerialConfig{"none"}};
  c.virtio_devices = {{VirtioDeviceConfig::Kind::kConsole, {}, "file:" + hvc}};
  int status;
  {
    VirtMachine machine(c);
    status = run_with_timeout(machine, std::chrono::seconds(600));
  }
  const std::string out = slurp(hvc);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("Tandem riscv64 guest"), std::string::npos) << out;
  EXPECT_EQ(value_of(out, "CONSOLE"), "/dev/console") << out;
  EXPECT_NE(out.find("reboot: Restarting system"), std::string::npos) << out;
}

}  // namespace
}  // namespace tandem::riscv
