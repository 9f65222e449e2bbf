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
// file on its disk and SIGKILLs the VMM: the data is in the image. A fourth does the same on a
// qcow2 disk at random moments while the guest writes and fsyncs without pause: the image passes
// `qemu-img check` (leaks allowed) and holds every write fsync'd before the kill.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
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

  // Runs the tandem binary on the machine config() prepared (console in console_path()) with
  // `drive` as its -drive; its pid.
  pid_t spawn_tandem(const std::string& drive) {
    const pid_t pid = fork();
    if (pid != 0) return pid;
    const std::string serial = "file:" + console_path();
    const std::string fw = (dir_ / "fw_jump.bin").string(), kernel = (dir_ / "Image").string();
    const std::string initrd = (work_ / "initrd.cpio").string();
    execl(TANDEM_BIN, TANDEM_BIN, "run", "-M", "virt", "-bios", fw.c_str(), "-kernel",
          kernel.c_str(), "-initrd", initrd.c_str(), "-append", "console=ttyS0", "-m", "512M",
          "-serial", serial.c_str(), "-drive", drive.c_str(), "-display", "none",
          static_cast<char*>(nullptr));
    _exit(127);
  }

  // Waits until the console holds `marker` (true), the VMM ended or `limit` passed (false).
  bool wait_for_console(pid_t pid, const std::string& marker, std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      if (slurp(console_path()).find(marker) != std::string::npos) return true;
      int st;
      if (waitpid(pid, &st, WNOHANG) == pid) return false;  // died early
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }

  // SIGKILLs the VMM and reaps it; its wait status.
  static int kill_vmm(pid_t pid) {
    kill(pid, SIGKILL);
    int st = 0;
    waitpid(pid, &st, 0);
    return st;
  }

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

// What the guest fsync'd is in the image even when the VMM is killed right after: the tandem
// binary runs the guest, the test SIGKILLs it once the guest reports the fsync done.
TEST_F(DebianBoot, FsyncedDataSurvivesSigkill) {
  const std::string image = (work_ / "durable.img").string();
  host("mkfs.ext4 -q -F " + image + " 16M 2>&1");
  config(
      "echo 'fsynced by the guest' | dd of=/mnt/vda/durable.txt conv=fsync 2>/dev/null && "
      "echo FSYNCED=ok\n"
      "sleep 600\n");
  const pid_t pid = spawn_tandem("file=" + image + ",format=raw");
  ASSERT_GE(pid, 0);
  const bool fsynced = wait_for_console(pid, "FSYNCED=ok", std::chrono::seconds(300));
  const int st = kill_vmm(pid);
  ASSERT_TRUE(fsynced) << slurp(console_path());
  EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  // The filesystem was not unmounted: replay its journal first, as a mount would.
  host("e2fsck -fy " + image + " >/dev/null 2>&1; true");
  EXPECT_EQ(host("debugfs -R 'cat /durable.txt' " + image + " 2>/dev/null"),
            "fsynced by the guest\n");
}

// Record i of the qcow2 crash test: "record-<i>\n" over 64 KiB at 4 KiB block i * 256 + i % 16 of
// the disk (1 MiB apart, so with 4 KiB clusters about every other record needs a new L2 table and
// every few a new refcount block as well).
constexpr uint64_t kRecordBytes = 64 << 10, kBlock = 4096, kCrashDiskBytes = 256ull << 20;
constexpr int kLastRecord = 250;
uint64_t record_block(int i) {
  return uint64_t(i) * 256 + uint64_t(i) % 16;
}
std::string record_data(int i) {
  const std::string line = "record-" + std::to_string(i) + "\n";
  std::string s;
  while (s.size() < kRecordBytes) s += line;
  s.resize(kRecordBytes);
  return s;
}

// The highest i of the "SYNCED i ok" lines on the console (0 when none).
int last_synced(const std::string& console) {
  int last = 0;
  static const std::regex re("SYNCED ([0-9]+) ok");
  for (auto it = std::sregex_iterator(console.begin(), console.end(), re);
       it != std::sregex_iterator(); ++it) {
    last = std::max(last, std::stoi((*it)[1]));
  }
  return last;
}

// Checks the disk's bytes (qemu-img's raw view of the image) after a crash: records up to
// `synced` are there, record synced + 1 (in flight when the VMM died) is there or reads as zeros
// block by block, and every other block reads as zeros.
void expect_records(const std::string& raw_path, int synced) {
  std::ifstream in(raw_path, std::ios::binary);
  std::string block(kBlock, 0);
  const std::string zeros(kBlock, 0);
  std::map<int, std::string> data;
  int bad = 0;
  std::string first_bad;
  for (uint64_t b = 0; b < kCrashDiskBytes / kBlock; ++b) {
    ASSERT_TRUE(in.read(block.data(), kBlock)) << raw_path << " is short at block " << b;
    const int i = static_cast<int>(b / 256);
    const uint64_t first = record_block(i);
    std::string want = zeros;
    bool may_be_zero = true;
    if (i >= 1 && i <= synced + 1 && b >= first && b < first + kRecordBytes / kBlock) {
      if (!data.count(i)) data[i] = record_data(i);
      want = data[i].substr((b - first) * kBlock, kBlock);
      may_be_zero = i > synced;
    }
    if (block != want && !(may_be_zero && block == zeros)) {
      if (bad++ == 0) {
        first_bad = "block " + std::to_string(b) + " (record " + std::to_string(i) +
                    ") starts with '" + block.substr(0, 24) + "'";
      }
    }
  }
  EXPECT_EQ(bad, 0) << bad << " block(s) wrong after a crash with " << synced
                    << " records fsync'd; first: " << first_bad;
}

// A crash test of the qcow2 driver: the guest writes 64 KiB records to its qcow2 disk one after
// another, fsyncing each (dd conv=fsync on /dev/vda: the page cache written back, then a flush
// request) and printing "SYNCED i ok" after it; the test SIGKILLs the VMM at a random delay after
// a random marker, then checks the image with qemu-img (no corruption; leaked clusters allowed)
// and its bytes; and boots again on the same crashed image, the guest going on from the record
// after the last one it reported. The seed is printed, to replay a failure.
TEST_F(DebianBoot, Qcow2SurvivesSigkillWhileTheGuestFsyncs) {
  ASSERT_EQ(std::system("qemu-img --version >/dev/null 2>&1"), 0)
      << "qemu-img is missing (apt-get install qemu-utils)";
  const std::string image = (work_ / "crash.qcow2").string(), raw = (work_ / "crash.raw").string();
  host(std::string(TANDEM_BIN) + " img create -q -f qcow2 -o cluster_size=4096 " + image + " " +
       std::to_string(kCrashDiskBytes) + " 2>&1");
  const unsigned seed = std::random_device{}();
  std::printf("Qcow2SurvivesSigkillWhileTheGuestFsyncs: seed %u\n", seed);
  std::mt19937 random(seed);
  int synced = 0;
  for (int kill_point = 1; kill_point <= 4; ++kill_point) {
    const int start = synced + 1;
    config("i=" + std::to_string(start) + "\nwhile [ $i -le " + std::to_string(kLastRecord) +
           " ]; do\n"
           "  yes record-$i | head -c " +
           std::to_string(kRecordBytes) +
           " > /tmp/record\n"
           "  if dd if=/tmp/record of=/dev/vda bs=4096 seek=$((i * 256 + i % 16)) "
           "conv=notrunc,fsync 2>/dev/null; then echo \"SYNCED $i ok\"; "
           "else echo \"WRITE FAILED $i\"; fi\n"
           "  i=$((i + 1))\n"
           "done\n"
           "echo ALL_WRITTEN\n"
           "sleep 600\n");
    fs::remove(console_path());
    // Kill after the guest reports one of its first records, at most 300 ms later: most kills
    // land in the middle of a write, its cluster allocation or its flush.
    const int marker = start + std::uniform_int_distribution<int>(0, 4)(random);
    const int delay_ms = std::uniform_int_distribution<int>(0, 300)(random);
    const pid_t pid = spawn_tandem("file=" + image + ",format=qcow2");
    ASSERT_GE(pid, 0);
    const bool seen = wait_for_console(pid, "SYNCED " + std::to_string(marker) + " ok",
                                       std::chrono::seconds(120));
    if (seen) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    const int st = kill_vmm(pid);
    const std::string out = slurp(console_path());
    ASSERT_TRUE(seen) << "kill point " << kill_point << ": no marker " << marker << "\n" << out;
    EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) << out;
    EXPECT_EQ(out.find("WRITE FAILED"), std::string::npos) << out;
    synced = last_synced(out);
    std::printf("  kill point %d: %d ms after record %d; records %d..%d fsync'd\n", kill_point,
                delay_ms, marker, start, synced);

    // qemu-img check: 0 clean, 3 leaked clusters only; 2 would be corruption.
    const std::string check = host("qemu-img check -f qcow2 " + image + " 2>&1; echo exit=$?");
    EXPECT_TRUE(check.ends_with("exit=0\n") || check.ends_with("exit=3\n"))
        << "kill point " << kill_point << ":\n"
        << check;
    host("qemu-img convert -f qcow2 -O raw " + image + " " + raw + " 2>&1");
    expect_records(raw, synced);
    fs::remove(raw);
    if (HasFailure()) break;
  }
}

// reboot -f ends the VMM with status 0, as QEMU's -no-reboot does. This boot also has its
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
