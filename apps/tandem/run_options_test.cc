#include "apps/tandem/run_options.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "base/error.h"

namespace tandem::cli {
namespace {

MachineConfig parse(std::vector<std::string> args) {
  return parse_run_options(args).config;
}

// The one-line message a bad command line produces.
std::string error_of(std::vector<std::string> args) {
  try {
    parse_run_options(args);
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    return msg;
  }
  ADD_FAILURE() << "no error";
  return {};
}

TEST(RunOptions, AsyncTeardownSpellings) {
  EXPECT_TRUE(parse({}).async_teardown);  // on by default
  EXPECT_FALSE(parse({"-run-with", "async-teardown=off"}).async_teardown);
  EXPECT_TRUE(parse({"--run-with", "async-teardown=on"}).async_teardown);
  EXPECT_TRUE(parse({"-async-teardown"}).async_teardown);
  EXPECT_THROW(parse({"-run-with", "async-teardown=maybe"}), Error);
  EXPECT_THROW(parse({"-run-with", "chroot=/tmp"}), Error);
}

TEST(RunOptions, Defaults) {
  MachineConfig c = parse({});
  EXPECT_EQ(c.machine, MachineKind::kRiscvVirt);
  EXPECT_EQ(c.accel, AccelKind::kTcg);
  EXPECT_EQ(c.memory_bytes, 512ull << 20);
  EXPECT_EQ(c.cpus, 1u);
  EXPECT_TRUE(c.serials.empty());
  EXPECT_TRUE(c.debug_exits.empty());
  EXPECT_FALSE(c.nodefaults);
  EXPECT_FALSE(c.testdev);
  EXPECT_TRUE(c.drives.empty());
  EXPECT_TRUE(c.virtio_devices.empty());
}

TEST(RunOptions, FullQemuCommandLine) {
  // qemu-system-x86_64 -M microvm -accel kvm -cpu host -nodefaults -no-user-config -nographic
  //   -serial stdio -m 512M -smp 2 -kernel k -append "console=ttyS0"
  //   -device isa-debug-exit,iobase=0xf4,iosize=0x04
  MachineConfig c = parse({"-M",
                           "microvm",
                           "-accel",
                           "kvm",
                           "-cpu",
                           "host",
                           "-nodefaults",
                           "-no-user-config",
                           "-nographic",
                           "-serial",
                           "stdio",
                           "-m",
                           "512M",
                           "-smp",
                           "2",
                           "-kernel",
                           "k",
                           "-append",
                           "console=ttyS0",
                           "-device",
                           "isa-debug-exit,iobase=0xf4,iosize=0x04"});
  EXPECT_EQ(c.machine, MachineKind::kX86);
  EXPECT_EQ(c.accel, AccelKind::kKvm);
  EXPECT_TRUE(c.nodefaults);
  ASSERT_EQ(c.serials.size(), 1u);
  EXPECT_EQ(c.serials[0].backend, "stdio");
  EXPECT_EQ(c.memory_bytes, 512ull << 20);
  EXPECT_EQ(c.cpus, 2u);
  EXPECT_EQ(c.kernel, "k");
  EXPECT_EQ(c.append, "console=ttyS0");
  ASSERT_EQ(c.debug_exits.size(), 1u);
  EXPECT_EQ(c.debug_exits[0].iobase, 0xf4);
  EXPECT_EQ(c.debug_exits[0].iosize, 4);
}

TEST(RunOptions, TandemLongOptions) {
  MachineConfig c = parse({"--machine", "x86", "--accel=kvm", "--kernel", "vmlinuz", "--initrd",
                           "initrd.img", "--append", "quiet", "--bios", "fw.bin", "--memory", "2G",
                           "--cpus", "4", "--serial", "file:/tmp/out", "--log", "debug"});
  EXPECT_EQ(c.kernel, "vmlinuz");
  EXPECT_EQ(c.initrd, "initrd.img");
  EXPECT_EQ(c.append, "quiet");
  EXPECT_EQ(c.bios, "fw.bin");
  EXPECT_EQ(c.memory_bytes, 2ull << 30);
  EXPECT_EQ(c.cpus, 4u);
  ASSERT_EQ(c.serials.size(), 1u);
  EXPECT_EQ(c.serials[0].backend, "file:/tmp/out");
  EXPECT_EQ(c.log_level, "debug");
}

TEST(RunOptions, OneOrTwoDashes) {
  EXPECT_EQ(parse({"--kernel", "a"}).kernel, "a");
  EXPECT_EQ(parse({"-kernel", "a"}).kernel, "a");
  EXPECT_EQ(parse({"--kernel=a"}).kernel, "a");
  EXPECT_EQ(parse({"-m", "1G"}).memory_bytes, 1ull << 30);
  EXPECT_EQ(parse({"--smp", "3"}).cpus, 3u);
  EXPECT_TRUE(parse({"--nodefaults"}).nodefaults);
  EXPECT_TRUE(parse({"-nodefaults"}).nodefaults);
}

TEST(RunOptions, ValuesThatLookLikeOptions) {
  EXPECT_EQ(parse({"-append", "-v --debug"}).append, "-v --debug");
  EXPECT_EQ(parse({"-append", ""}).append, "");
  EXPECT_EQ(parse({"--append="}).append, "");
  EXPECT_EQ(parse({"-append", "a=b c=d"}).append, "a=b c=d");
}

TEST(RunOptions, LastValueWins) {
  EXPECT_EQ(parse({"-m", "1G", "-m", "2G"}).memory_bytes, 2ull << 30);
  EXPECT_EQ(parse({"-kernel", "a", "--kernel", "b"}).kernel, "b");
}

TEST(RunOptions, MachineNames) {
  for (const char* name : {"x86", "pc", "q35", "microvm", "pc-q35-8.2", "pc-i440fx-7.2"}) {
    EXPECT_EQ(parse({"-M", name}).machine, MachineKind::kX86) << name;
    EXPECT_EQ(parse({"-machine", name}).machine, MachineKind::kX86) << name;
  }
  MachineConfig c = parse({"-M", "virt"});
  EXPECT_EQ(c.machine, MachineKind::kRiscvVirt);
  EXPECT_EQ(c.accel, AccelKind::kTcg);  // the RISC-V machine is TCG's
  EXPECT_EQ(parse({"--machine", "riscv-virt"}).machine, MachineKind::kRiscvVirt);
  EXPECT_EQ(parse({"-machine", "type=q35,accel=kvm"}).machine, MachineKind::kX86);
  EXPECT_EQ(parse({"-machine", "q35,accel=kvm:tcg"}).accel, AccelKind::kKvm);
  EXPECT_NE(parse_run_options(std::vector<std::string>{"-M", "help"}).info.find("microvm"),
            std::string::npos);
}

TEST(RunOptions, Accelerators) {
  EXPECT_EQ(parse({"-accel", "kvm"}).accel, AccelKind::kKvm);
  EXPECT_EQ(parse({"-enable-kvm"}).accel, AccelKind::kKvm);
  EXPECT_EQ(parse({"--enable-kvm"}).accel, AccelKind::kKvm);
  EXPECT_EQ(parse({"-accel", "tcg"}).accel, AccelKind::kTcg);
  EXPECT_EQ(parse({"-accel", "tcg,thread=multi", "-M", "virt"}).accel, AccelKind::kTcg);
  EXPECT_EQ(parse({"-accel", "kvm", "-accel", "tcg"}).accel, AccelKind::kKvm);  // first wins
  EXPECT_EQ(parse({"-accel", "accel=kvm"}).accel, AccelKind::kKvm);
}

TEST(RunOptions, KvmWithoutAMachinePicksX86) {
  EXPECT_EQ(parse({"--accel", "kvm"}).machine, MachineKind::kX86);
  EXPECT_EQ(parse({"-enable-kvm"}).machine, MachineKind::kX86);
  EXPECT_EQ(parse({"-machine", "accel=kvm"}).machine, MachineKind::kX86);
  EXPECT_EQ(parse({"-accel", "tcg"}).machine, MachineKind::kRiscvVirt);
  EXPECT_EQ(parse({"-M", "pc"}).machine, MachineKind::kX86);
  EXPECT_EQ(parse({"-M", "pc"}).accel, AccelKind::kKvm);
}

TEST(RunOptions, CpuModels) {
  parse({"-M", "x86", "-cpu", "host"});
  parse({"-M", "x86", "-cpu", "max"});
  parse({"-M", "virt", "-cpu", "rv64"});
  parse({"-cpu", "rv64"});
  EXPECT_EQ(error_of({"-M", "x86", "-cpu", "Skylake-Server"}),
            "unknown CPU model 'Skylake-Server' (use host or max)");
  EXPECT_NE(error_of({"-M", "x86", "-cpu", "host,+x2apic"}).find("feature"), std::string::npos);
  EXPECT_NE(error_of({"-M", "virt", "-cpu", "host"}).find("rv64"), std::string::npos);
}

TEST(RunOptions, MemorySizes) {
  EXPECT_EQ(parse_memory_size("512M"), 512ull << 20);
  EXPECT_EQ(parse_memory_size("512m"), 512ull << 20);
  EXPECT_EQ(parse_memory_size("2G"), 2ull << 30);
  EXPECT_EQ(parse_memory_size("1024"), 1024ull << 20);  // MiB without a suffix, as QEMU
  EXPECT_EQ(parse_memory_size("1T"), 1ull << 40);
  EXPECT_EQ(parse_memory_size("1.5G"), 3ull << 29);
  EXPECT_EQ(parse_memory_size("65536K"), 64ull << 20);
  EXPECT_EQ(parse_memory_size("1000B"), 8192u);  // rounded up to 8 KiB, as QEMU
  EXPECT_EQ(parse({"-m", "size=1G"}).memory_bytes, 1ull << 30);
  EXPECT_EQ(parse({"--memory", "4096"}).memory_bytes, 4ull << 30);
}

TEST(RunOptions, BadMemorySizes) {
  EXPECT_EQ(error_of({"-m", "0"}), "memory size must be greater than 0 (got '0')");
  EXPECT_EQ(error_of({"--memory", "0G"}), "memory size must be greater than 0 (got '0G')");
  for (const char* bad : {"", "abc", "12X", "1GG", "-1", "G", "1.G", "0x100", " 1G", "1G "}) {
    EXPECT_NE(error_of({"-m", bad}).find("invalid memory size"), std::string::npos) << bad;
  }
  EXPECT_NE(error_of({"-m", "99999999999999999999"}).find("too large"), std::string::npos);
  EXPECT_NE(error_of({"-m", "17000000E"}).find("too large"), std::string::npos);
  EXPECT_NE(error_of({"-m", "16E"}).find("too large"), std::string::npos);
  EXPECT_NE(error_of({"-m", "1G,maxmem=4G"}).find("hotplug"), std::string::npos);
  EXPECT_NE(error_of({"-m", "1G,bogus=1"}).find("bogus"), std::string::npos);
}

TEST(RunOptions, Smp) {
  EXPECT_EQ(parse({"-smp", "4"}).cpus, 4u);
  EXPECT_EQ(parse({"-smp", "cpus=4"}).cpus, 4u);
  EXPECT_EQ(parse({"-smp", "4,sockets=2,cores=2,threads=1"}).cpus, 4u);
  EXPECT_EQ(parse({"-smp", "sockets=2,cores=2,threads=2"}).cpus, 8u);
  EXPECT_EQ(parse({"-smp", "2,maxcpus=4"}).cpus, 2u);
  EXPECT_EQ(parse({"-smp", "4,cores=2"}).cpus, 4u);
  EXPECT_NE(error_of({"-smp", "4,sockets=2,cores=3,threads=1"}).find("topology"),
            std::string::npos);
  EXPECT_NE(error_of({"-smp", "0"}).find("at least 1"), std::string::npos);
  EXPECT_NE(error_of({"-smp", "two"}).find("invalid CPU count"), std::string::npos);
  EXPECT_NE(error_of({"-smp", "4,maxcpus=2"}).find("maxcpus"), std::string::npos);
  EXPECT_NE(error_of({"-smp", "4,widgets=2"}).find("widgets"), std::string::npos);
  EXPECT_NE(error_of({"-smp", "5000"}).find("more than"), std::string::npos);
}

TEST(RunOptions, CpusOption) {
  EXPECT_EQ(parse({"--cpus", "8"}).cpus, 8u);
  EXPECT_EQ(error_of({"--cpus", "0"}), "--cpus: the CPU count must be at least 1");
  EXPECT_NE(error_of({"--cpus", "-1"}).find("invalid"), std::string::npos);
  EXPECT_NE(error_of({"--cpus", "2x"}).find("invalid"), std::string::npos);
  EXPECT_NE(error_of({"--cpus", "2", "-smp", "2"}).find("once"), std::string::npos);
}

TEST(RunOptions, Serial) {
  MachineConfig c = parse({"-serial", "mon:stdio", "-serial", "file:/tmp/com2.log"});
  ASSERT_EQ(c.serials.size(), 2u);
  EXPECT_EQ(c.serials[0].backend, "mon:stdio");
  EXPECT_EQ(c.serials[1].backend, "file:/tmp/com2.log");
  EXPECT_EQ(parse({"-serial", "none"}).serials[0].backend, "none");
  EXPECT_EQ(parse({"-serial", "null"}).serials[0].backend, "null");
  EXPECT_NE(error_of({"-serial", "pty"}).find("'pty'"), std::string::npos);
  EXPECT_NE(error_of({"-serial", "file:"}).find("path"), std::string::npos);
}

TEST(RunOptions, DisplayAndCompatibilityFlags) {
  parse({"-display", "none", "-nographic", "-no-user-config", "-no-reboot"});
  EXPECT_NE(error_of({"-display", "gtk"}).find("no graphical display"), std::string::npos);
}

TEST(RunOptions, Devices) {
  MachineConfig c = parse({"-device", "isa-debug-exit"});
  ASSERT_EQ(c.debug_exits.size(), 1u);
  EXPECT_EQ(c.debug_exits[0].iobase, 0x501);
  EXPECT_EQ(c.debug_exits[0].iosize, 2);
  c = parse({"-device", "isa-debug-exit,iobase=244,iosize=4,id=exit0", "-device",
             "driver=isa-debug-exit,iobase=0x600"});
  ASSERT_EQ(c.debug_exits.size(), 2u);
  EXPECT_EQ(c.debug_exits[0].iobase, 0xf4);
  EXPECT_EQ(c.debug_exits[1].iobase, 0x600);
  EXPECT_TRUE(parse({"-device", "tandem-testdev"}).testdev);
  EXPECT_NE(
      parse_run_options(std::vector<std::string>{"-device", "help"}).info.find("isa-debug-exit"),
      std::string::npos);
}

TEST(RunOptions, BadDevices) {
  EXPECT_EQ(error_of({"-device", "e1000"}), "unknown device 'e1000' (-device help lists them)");
  EXPECT_NE(error_of({"-device", "isa-debug-exit,port=1"}).find("'port=1'"), std::string::npos);
  EXPECT_NE(error_of({"-device", "isa-debug-exit,iobase=zz"}).find("invalid iobase"),
            std::string::npos);
  EXPECT_NE(error_of({"-device", "isa-debug-exit,iobase=0x10000"}).find("beyond"),
            std::string::npos);
  EXPECT_NE(error_of({"-device", "isa-debug-exit,iosize=0"}).find("iosize"), std::string::npos);
  EXPECT_NE(error_of({"-device", "isa-debug-exit,iobase=0xffff,iosize=2"}).find("beyond"),
            std::string::npos);
  EXPECT_NE(error_of({"-device", "tandem-testdev,x=1"}).find("'x=1'"), std::string::npos);
}

// A disk image file for the -drive tests, removed at the end of the test.
class TempImage {
 public:
  explicit TempImage(const std::string& name = "disk.img") {
    dir_ = std::filesystem::temp_directory_path() /
           ("tandem-run-options-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / name).string();
    std::ofstream(path_) << std::string(4096, '\0');
  }
  ~TempImage() { std::filesystem::remove_all(dir_); }
  const std::string& path() const { return path_; }

 private:
  std::filesystem::path dir_;
  std::string path_;
};

using Kind = VirtioDeviceConfig::Kind;

TEST(RunOptions, DriveDefaultsAttachAVirtioDisk) {
  TempImage img;
  MachineConfig c = parse({"-drive", "file=" + img.path()});
  ASSERT_EQ(c.drives.size(), 1u);
  const DriveConfig& d = c.drives[0];
  EXPECT_EQ(d.file, img.path());
  EXPECT_EQ(d.id, "drive0");
  EXPECT_EQ(d.format, "");  // probed when the drive is opened
  EXPECT_FALSE(d.readonly);
  EXPECT_EQ(d.cache, "writeback");
  EXPECT_EQ(d.aio, "io_uring");
  EXPECT_TRUE(d.attach);
  ASSERT_EQ(c.virtio_devices.size(), 1u);
  EXPECT_EQ(c.virtio_devices[0].kind, Kind::kBlk);
  EXPECT_EQ(c.virtio_devices[0].drive, "drive0");
}

TEST(RunOptions, DriveWithEveryKey) {
  TempImage img;
  MachineConfig c = parse({"--drive", "file=" + img.path() +
                                          ",format=raw,readonly=on,cache=none,aio=threads,"
                                          "id=root,serial=SN-42,if=virtio"});
  ASSERT_EQ(c.drives.size(), 1u);
  const DriveConfig& d = c.drives[0];
  EXPECT_EQ(d.id, "root");
  EXPECT_TRUE(d.readonly);
  EXPECT_EQ(d.cache, "none");
  EXPECT_EQ(d.aio, "threads");
  EXPECT_EQ(d.serial, "SN-42");
  EXPECT_TRUE(d.attach);
  EXPECT_EQ(parse({"-drive", "file=" + img.path() + ",readonly"}).drives[0].readonly, true);
  EXPECT_EQ(parse({"-drive", "file=" + img.path() + ",readonly=off"}).drives[0].readonly, false);
  EXPECT_EQ(parse({"-drive", "file=" + img.path() + ",cache=unsafe"}).drives[0].cache, "unsafe");
}

TEST(RunOptions, DriveCommaInPathIsDoubled) {
  TempImage img("a,b.img");
  MachineConfig c =
      parse({"-drive", "file=" + img.path().substr(0, img.path().size() - 7) + "a,,b.img,id=x"});
  ASSERT_EQ(c.drives.size(), 1u);
  EXPECT_EQ(c.drives[0].file, img.path());
  EXPECT_EQ(c.drives[0].id, "x");
}

TEST(RunOptions, IfNoneDrivesNeedADevice) {
  TempImage img;
  // The explicit -device comes first; an if=virtio drive's implicit device after it, as QEMU.
  MachineConfig c =
      parse({"-drive", "file=" + img.path() + ",if=none,id=data", "-drive", "file=" + img.path(),
             "-device", "virtio-blk-device,drive=data", "-device", "virtio-rng-device"});
  ASSERT_EQ(c.drives.size(), 2u);
  EXPECT_FALSE(c.drives[0].attach);
  EXPECT_EQ(c.drives[1].id, "drive0");
  ASSERT_EQ(c.virtio_devices.size(), 3u);
  EXPECT_EQ(c.virtio_devices[0].kind, Kind::kBlk);
  EXPECT_EQ(c.virtio_devices[0].drive, "data");
  EXPECT_EQ(c.virtio_devices[1].kind, Kind::kRng);
  EXPECT_EQ(c.virtio_devices[2].kind, Kind::kBlk);
  EXPECT_EQ(c.virtio_devices[2].drive, "drive0");
  // An if=none drive no device uses is kept (QEMU allows it) but not attached.
  c = parse({"-drive", "file=" + img.path() + ",if=none,id=spare"});
  EXPECT_EQ(c.drives.size(), 1u);
  EXPECT_TRUE(c.virtio_devices.empty());
  // A serial given on the device reaches the drive.
  c = parse({"-drive", "file=" + img.path() + ",if=none,id=d", "-device",
             "virtio-blk-device,drive=d,serial=abc,id=blk0"});
  EXPECT_EQ(c.drives[0].serial, "abc");
}

TEST(RunOptions, GeneratedDriveIdsAvoidGivenOnes) {
  TempImage img;
  MachineConfig c =
      parse({"-drive", "file=" + img.path(), "-drive", "file=" + img.path() + ",id=drive0"});
  ASSERT_EQ(c.drives.size(), 2u);
  EXPECT_EQ(c.drives[0].id, "drive1");
  EXPECT_EQ(c.drives[1].id, "drive0");
}

TEST(RunOptions, BadDrives) {
  TempImage img;
  const std::string f = "file=" + img.path();
  EXPECT_EQ(parse({"-drive", f + ",format=qcow2"}).drives.at(0).format, "qcow2");
  EXPECT_EQ(error_of({"-drive", f + ",format=vmdk"}),
            "-drive: unsupported image format 'vmdk' (supported: raw, qcow2)");
  EXPECT_EQ(error_of({"-drive", f + ",discard=unmap"}),
            "-drive: unknown property 'discard=unmap' (it has file, format, readonly, cache, aio, "
            "id, serial and if)");
  EXPECT_NE(error_of({"-drive", f + ",cache=writethrough"}).find("writeback, none or unsafe"),
            std::string::npos);
  EXPECT_NE(error_of({"-drive", f + ",aio=native"}).find("io_uring or threads"), std::string::npos);
  EXPECT_NE(error_of({"-drive", f + ",readonly=maybe"}).find("on or off"), std::string::npos);
  EXPECT_NE(error_of({"-drive", f + ",if=ide"}).find("if=ide is not supported"), std::string::npos);
  EXPECT_NE(error_of({"-drive", f + ",serial=123456789012345678901"}).find("20 bytes"),
            std::string::npos);
  EXPECT_NE(error_of({"-drive", f + ",id=1x"}).find("invalid id '1x'"), std::string::npos);
  EXPECT_NE(error_of({"-drive", f + ",id=a,id=b"}).find("twice"), std::string::npos);
  EXPECT_EQ(error_of({"-drive", "format=raw"}), "-drive: needs file=PATH (got 'format=raw')");
  EXPECT_EQ(error_of({"-drive", "file=/nonexistent/disk.img"}),
            "-drive: cannot open '/nonexistent/disk.img': No such file or directory");
  EXPECT_NE(error_of({"-drive", "file=/tmp"}).find("is a directory"), std::string::npos);
  EXPECT_NE(error_of({"-drive", f + ",if=none"}).find("if=none needs id=ID"), std::string::npos);
  EXPECT_EQ(error_of({"-drive", f + ",id=d", "-drive", f + ",id=d"}),
            "-drive: id 'd' is used twice");
}

TEST(RunOptions, BadDiskDevices) {
  TempImage img;
  const std::string f = "file=" + img.path();
  EXPECT_EQ(error_of({"-device", "virtio-blk-device,drive=nope"}),
            "virtio-blk-device: no -drive with id 'nope'");
  EXPECT_NE(error_of({"-device", "virtio-blk-device"}).find("needs drive=ID"), std::string::npos);
  EXPECT_EQ(error_of({"-drive", f + ",if=none,id=d", "-device", "virtio-blk-device,drive=d",
                      "-device", "virtio-blk-device,drive=d"}),
            "virtio-blk-device: drive 'd' is already attached to a device");
  EXPECT_NE(error_of({"-drive", f + ",id=d", "-device", "virtio-blk-device,drive=d"})
                .find("already attached"),
            std::string::npos);
  EXPECT_NE(error_of({"-drive", f + ",if=none,id=d", "-device", "virtio-blk-device,drive=d,x=1"})
                .find("'x=1'"),
            std::string::npos);
  EXPECT_EQ(error_of({"-drive", f + ",if=none,id=d", "-device", "virtio-blk-pci,drive=d"}),
            "virtio-blk-pci: Tandem has no PCI; its virtio devices are on virtio-mmio (use "
            "-device virtio-blk-device)");
  EXPECT_NE(error_of({"-device", "virtio-net-pci"}).find("no PCI"), std::string::npos);
  EXPECT_NE(error_of({"-device", "virtio-gpu-device"}).find("not a device Tandem has"),
            std::string::npos);
}

TEST(RunOptions, RngAndConsoles) {
  MachineConfig c = parse({"-device", "virtio-rng-device", "-device", "virtio-rng-device,id=rng1"});
  ASSERT_EQ(c.virtio_devices.size(), 2u);
  EXPECT_EQ(c.virtio_devices[0].kind, Kind::kRng);
  EXPECT_NE(error_of({"-device", "virtio-rng-device,rng=rng0"}).find("'rng=rng0'"),
            std::string::npos);

  // QEMU's spelling: a virtio-serial-device and a virtconsole on a chardev.
  c = parse({"-chardev", "file,id=con,path=/tmp/hvc.log", "-device", "virtio-serial-device",
             "-device", "virtconsole,chardev=con"});
  ASSERT_EQ(c.virtio_devices.size(), 1u);
  EXPECT_EQ(c.virtio_devices[0].kind, Kind::kConsole);
  EXPECT_EQ(c.virtio_devices[0].backend, "file:/tmp/hvc.log");
  // Without a chardev the port exists and its output goes nowhere, as in QEMU.
  c = parse({"-device", "virtio-serial-device", "-device", "virtconsole"});
  ASSERT_EQ(c.virtio_devices.size(), 1u);
  EXPECT_EQ(c.virtio_devices[0].backend, "null");
  c = parse({"-device", "virtio-serial-device"});
  ASSERT_EQ(c.virtio_devices.size(), 1u);
  EXPECT_EQ(c.virtio_devices[0].backend, "null");
  // Tandem's one-line spelling.
  c = parse({"--device", "virtio-console,backend=stdio", "-serial", "none"});
  ASSERT_EQ(c.virtio_devices.size(), 1u);
  EXPECT_EQ(c.virtio_devices[0].kind, Kind::kConsole);
  EXPECT_EQ(c.virtio_devices[0].backend, "stdio");
  EXPECT_EQ(parse({"--device", "virtio-console"}).virtio_devices[0].backend, "null");
  c = parse({"-chardev", "stdio,id=t,mux=off,signal=off", "--device", "virtio-console,chardev=t"});
  EXPECT_EQ(c.virtio_devices[0].backend, "stdio");
  // Two consoles, each on its own bus.
  c = parse({"-chardev", "null,id=a", "-chardev", "file,id=b,path=/tmp/b", "-device",
             "virtio-serial-device", "-device", "virtconsole,chardev=a", "-device",
             "virtio-serial-device", "-device", "virtconsole,chardev=b"});
  ASSERT_EQ(c.virtio_devices.size(), 2u);
  EXPECT_EQ(c.virtio_devices[0].backend, "null");
  EXPECT_EQ(c.virtio_devices[1].backend, "file:/tmp/b");
  // -serial chardev:ID
  c = parse({"-chardev", "file,id=s,path=/tmp/s.log", "-serial", "chardev:s"});
  ASSERT_EQ(c.serials.size(), 1u);
  EXPECT_EQ(c.serials[0].backend, "file:/tmp/s.log");
  EXPECT_NE(parse_run_options(std::vector<std::string>{"-chardev", "help"}).info.find("stdio"),
            std::string::npos);
}

TEST(RunOptions, BadConsoles) {
  EXPECT_NE(error_of({"-device", "virtconsole"}).find("needs a -device virtio-serial-device"),
            std::string::npos);
  EXPECT_NE(error_of({"-device", "virtio-serial-device", "-device", "virtconsole", "-device",
                      "virtconsole"})
                .find("holds one port"),
            std::string::npos);
  EXPECT_EQ(error_of({"-device", "virtio-serial-device", "-device", "virtconsole,chardev=x"}),
            "virtconsole: no -chardev with id 'x'");
  EXPECT_NE(error_of({"-chardev", "null,id=x", "-device", "virtio-serial-device", "-device",
                      "virtconsole,chardev=x", "-serial", "chardev:x"})
                .find("already used"),
            std::string::npos);
  EXPECT_NE(error_of({"-device", "virtserialport"}).find("not supported"), std::string::npos);
  EXPECT_NE(error_of({"-device", "virtio-serial-pci"}).find("virtio-serial-device"),
            std::string::npos);
  EXPECT_NE(error_of({"-device", "virtio-console,backend=pty"}).find("'pty'"), std::string::npos);
  EXPECT_NE(error_of({"-device", "virtio-console,backend=null,chardev=x"}).find("once"),
            std::string::npos);
  EXPECT_EQ(error_of({"-chardev", "socket,id=s,path=/tmp/s"}),
            "-chardev: backend 'socket' is not supported (use stdio, file or null)");
  EXPECT_NE(error_of({"-chardev", "null"}).find("needs id=ID"), std::string::npos);
  EXPECT_NE(error_of({"-chardev", "file,id=f"}).find("path=PATH"), std::string::npos);
  EXPECT_NE(error_of({"-chardev", "null,id=a", "-chardev", "stdio,id=a"}).find("twice"),
            std::string::npos);
  EXPECT_NE(error_of({"-chardev", "null,id=a,path=/x"}).find("'path=/x'"), std::string::npos);
}

TEST(RunOptions, DeviceHelpListsVirtio) {
  std::string help = parse_run_options(std::vector<std::string>{"-device", "help"}).info;
  for (const char* name : {"virtio-blk-device", "virtio-rng-device", "virtio-serial-device",
                           "virtconsole", "virtio-console", "no PCI"}) {
    EXPECT_NE(help.find(name), std::string::npos) << name;
  }
}

TEST(RunOptions, UnknownAndMalformed) {
  EXPECT_EQ(error_of({"-foo"}), "unknown option '-foo'");
  EXPECT_EQ(error_of({"--foo=1"}), "unknown option '--foo'");
  EXPECT_EQ(error_of({"-kernel=foo"}), "unknown option '-kernel=foo'");
  EXPECT_EQ(error_of({"-M", "sparc"}), "unknown machine 'sparc' (-M help lists the machines)");
  EXPECT_EQ(error_of({"-accel", "hvf"}), "unknown accelerator 'hvf' (use kvm, tcg or interp)");
  EXPECT_EQ(error_of({"-kernel"}), "option '-kernel' needs a value");
  EXPECT_EQ(error_of({"--nographic=1"}), "option '--nographic' takes no value");
  EXPECT_EQ(error_of({"disk.img"}), "unexpected argument 'disk.img'");
  EXPECT_EQ(error_of({"-"}), "unexpected argument '-'");
  EXPECT_NE(error_of({"-M", "microvm,x-option-roms=off"}).find("x-option-roms"), std::string::npos);
  EXPECT_NE(error_of({"-M", "virt", "-accel", "kvm"}).find("tcg"), std::string::npos);
  EXPECT_NE(error_of({"-accel", "tcg", "-enable-kvm"}).find("conflicts"), std::string::npos);
  EXPECT_NE(error_of({"--log", "loud"}).find("loud"), std::string::npos);
}

TEST(RunOptions, Help) {
  auto run = parse_run_options(std::vector<std::string>{"--help"});
  EXPECT_NE(run.info.find("--memory"), std::string::npos);
  EXPECT_NE(run.info.find("Ctrl-A X"), std::string::npos);
  EXPECT_FALSE(parse_run_options(std::vector<std::string>{"-h"}).info.empty());
  EXPECT_EQ(run_help(), run.info);
}

}  // namespace
}  // namespace tandem::cli
