#include "apps/tandem/run_options.h"

#include <gtest/gtest.h>

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
  EXPECT_EQ(error_of({"-device", "virtio-net-pci"}),
            "unknown device 'virtio-net-pci' (-device help lists them)");
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

TEST(RunOptions, UnknownAndMalformed) {
  EXPECT_EQ(error_of({"-foo"}), "unknown option '-foo'");
  EXPECT_EQ(error_of({"--foo=1"}), "unknown option '--foo'");
  EXPECT_EQ(error_of({"-kernel=foo"}), "unknown option '-kernel=foo'");
  EXPECT_EQ(error_of({"-M", "sparc"}), "unknown machine 'sparc' (-M help lists the machines)");
  EXPECT_EQ(error_of({"-accel", "hvf"}), "unknown accelerator 'hvf' (use kvm or tcg)");
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
