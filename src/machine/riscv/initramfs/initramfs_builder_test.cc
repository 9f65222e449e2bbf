#include "machine/riscv/initramfs/initramfs_builder.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "base/error.h"
#include "machine/riscv/initramfs/test_util.h"

namespace tandem::riscv {
namespace {

using testing::read_text;
using testing::run;
using testing::TempDir;
using testing::write_file;

const char* kDep =
    "kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko\n"
    "kernel/fs/jbd2/jbd2.ko:\n"
    "kernel/fs/mbcache.ko:\n"
    "kernel/lib/crc16.ko:\n"
    "kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko "
    "kernel/net/core/failover.ko\n"
    "kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko\n"
    "kernel/net/core/failover.ko:\n"
    "kernel/drivers/virtio/virtio_mmio.ko:\n"
    "kernel/drivers/char/hw_random/virtio-rng.ko.xz:\n";

size_t index_of(const std::vector<std::string>& v, const std::string& s) {
  for (size_t i = 0; i < v.size(); ++i)
    if (v[i] == s) return i;
  return v.size();
}

TEST(PlanModules, DependenciesComeFirstAndOnce) {
  ModulePlan p =
      plan_modules(kDep, {"virtio_mmio", "virtio_net", "ext4", "virtio-rng", "virtio_blk"});
  const auto& o = p.load_order;
  EXPECT_EQ(o.size(), 9u);
  EXPECT_EQ(o[0], "kernel/drivers/virtio/virtio_mmio.ko");
  EXPECT_LT(index_of(o, "kernel/net/core/failover.ko"),
            index_of(o, "kernel/drivers/net/net_failover.ko"));
  EXPECT_LT(index_of(o, "kernel/drivers/net/net_failover.ko"),
            index_of(o, "kernel/drivers/net/virtio_net.ko"));
  EXPECT_LT(index_of(o, "kernel/fs/jbd2/jbd2.ko"), index_of(o, "kernel/fs/ext4/ext4.ko"));
  EXPECT_LT(index_of(o, "kernel/lib/crc16.ko"), index_of(o, "kernel/fs/ext4/ext4.ko"));
  EXPECT_NE(index_of(o, "kernel/drivers/char/hw_random/virtio-rng.ko.xz"), o.size());
  EXPECT_EQ(p.not_found, std::vector<std::string>{"virtio_blk"});
}

TEST(PlanModules, CycleAndMalformedLinesAreErrors) {
  EXPECT_THROW(plan_modules("a.ko: b.ko\nb.ko: a.ko\n", {"a"}), Error);
  EXPECT_THROW(plan_modules("no colon here\n", {"a"}), Error);
  EXPECT_THROW(plan_modules("a.ko: missing.ko\n", {"a"}), Error);
}

TEST(InitScript, IsValidShellAndDoesWhatItShould) {
  for (bool autorun : {false, true}) {
    TempDir tmp;
    std::string script = init_script(autorun);
    write_file(tmp.path() / "init", script);
    int status;
    std::string out = run("sh -n " + (tmp.path() / "init").string(), &status);
    EXPECT_EQ(status, 0) << out;
    EXPECT_EQ(script.rfind("#!/bin/busybox sh\n", 0), 0u);
    for (const char* needle :
         {"mount -t proc", "mount -t sysfs", "mount -t devtmpfs", "insmod", "hwclock -s",
          "setsid cttyhack sh", "/sys/class/block/vd", "poweroff -f"})
      EXPECT_NE(script.find(needle), std::string::npos) << needle;
    EXPECT_EQ(script.find("/etc/tandem/autorun") != std::string::npos, autorun);
    if (autorun) {
      EXPECT_NE(script.find("devmem 0x100000 32"), std::string::npos);
    }
  }
}

// A fake ELF header that claims to be a 64-bit RISC-V program.
std::vector<uint8_t> fake_riscv_elf() {
  std::vector<uint8_t> b(256, 0);
  b[0] = 0x7f, b[1] = 'E', b[2] = 'L', b[3] = 'F', b[4] = 2, b[5] = 1;
  b[18] = 243;
  return b;
}

TEST(BuildInitramfs, ContentsUnpackWithGnuCpio) {
  ASSERT_EQ(access("/usr/bin/cpio", X_OK), 0) << "cpio missing: apt-get install cpio";
  TempDir tmp;
  auto mods = tmp.path() / "modules";
  write_file(mods / "modules.dep", std::string(kDep));
  write_file(mods / "kernel-release", std::string("6.12.0-test\n"));
  for (const char* m : {"kernel/fs/ext4/ext4.ko", "kernel/fs/jbd2/jbd2.ko", "kernel/fs/mbcache.ko",
                        "kernel/lib/crc16.ko", "kernel/drivers/virtio/virtio_mmio.ko"})
    write_file(mods / m, std::string("module:") + m);
  write_file(tmp.path() / "busybox", fake_riscv_elf());

  InitramfsOptions o;
  o.busybox = (tmp.path() / "busybox").string();
  o.modules_dir = mods.string();
  o.modules = {"virtio_mmio", "ext4", "virtio_blk"};
  o.autorun = "echo hi\nexit 3\n";
  o.extra_files.push_back({"opt/bench/prog", {'P', 'R', 'G'}, 0750});
  auto archive = build_initramfs(o);
  write_file(tmp.path() / "initrd.cpio", archive);

  int status;
  std::string list = run("cpio -itv --quiet < " + (tmp.path() / "initrd.cpio").string(), &status);
  ASSERT_EQ(status, 0) << list;
  EXPECT_NE(list.find("bin/sh -> busybox"), std::string::npos) << list;
  EXPECT_NE(list.find("dev/console"), std::string::npos) << list;
  EXPECT_EQ(list.find("virtio_net"), std::string::npos) << list;  // not asked for

  auto out = tmp.path() / "out";
  std::filesystem::create_directory(out);
  // Device nodes need privileges cpio may not have; skip them when unpacking.
  std::string msg = run(
      "cd " + out.string() + " && cpio -id --quiet --nonmatching 'dev/console' < ../initrd.cpio",
      &status);
  ASSERT_EQ(status, 0) << msg;
  EXPECT_EQ(read_text(out / "bin/busybox").size(), 256u);
  EXPECT_EQ(read_text(out / "init"), init_script(true));
  EXPECT_EQ(read_text(out / "etc/tandem/autorun"), "echo hi\nexit 3\n");
  EXPECT_EQ(read_text(out / "opt/bench/prog"), "PRG");  // an extra file, in a new folder
  EXPECT_EQ(
      std::filesystem::status(out / "opt/bench/prog").permissions() & std::filesystem::perms::all,
      std::filesystem::perms(0750));
  EXPECT_EQ(read_text(out / "lib/modules/6.12.0-test/kernel/fs/ext4/ext4.ko"),
            "module:kernel/fs/ext4/ext4.ko");
  std::string order = read_text(out / "etc/tandem/modules");
  EXPECT_EQ(order.find("/lib/modules/6.12.0-test/kernel/drivers/virtio/virtio_mmio.ko\n"), 0u)
      << order;
  EXPECT_LT(order.find("crc16.ko"), order.find("ext4.ko"));
  EXPECT_LT(order.find("jbd2.ko"), order.find("ext4.ko"));
  std::string dep = read_text(out / "lib/modules/6.12.0-test/modules.dep");
  EXPECT_NE(dep.find("kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko"), std::string::npos);
  EXPECT_EQ(dep.find("virtio_net"), std::string::npos);
  EXPECT_TRUE(std::filesystem::is_directory(out / "proc"));
  EXPECT_EQ(access((out / "init").c_str(), X_OK), 0);
}

TEST(BuildInitramfs, WithoutModules) {
  TempDir tmp;
  write_file(tmp.path() / "busybox", fake_riscv_elf());
  InitramfsOptions o;
  o.busybox = (tmp.path() / "busybox").string();
  auto a = build_initramfs(o);
  EXPECT_GT(a.size(), 256u);
  std::string s(a.begin(), a.end());
  EXPECT_NE(s.find("TRAILER!!!"), std::string::npos);
  EXPECT_EQ(s.find("lib/modules"), std::string::npos);
}

TEST(BuildInitramfs, BadInputsAreClearErrors) {
  TempDir tmp;
  InitramfsOptions o;
  EXPECT_THROW(build_initramfs(o), Error);
  o.busybox = (tmp.path() / "nope").string();
  try {
    build_initramfs(o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nope"), std::string::npos);
  }
  write_file(tmp.path() / "x86", std::string("\x7f"
                                             "ELF\x02\x01") +
                                     std::string(60, '\0'));
  o.busybox = (tmp.path() / "x86").string();
  EXPECT_THROW(build_initramfs(o), Error);
  write_file(tmp.path() / "busybox", fake_riscv_elf());
  o.busybox = (tmp.path() / "busybox").string();
  o.modules_dir = (tmp.path() / "no-modules").string();
  EXPECT_THROW(build_initramfs(o), Error);
  o.modules_dir.clear();
  o.extra_files.push_back({"bin/busybox", {1}, 0755});  // already there
  EXPECT_THROW(build_initramfs(o), Error);
}

// With the fetched guest (scripts/fetch-riscv-guest.sh), the real busybox and modules go in.
TEST(BuildInitramfs, RealGuestAssetsWhenFetched) {
  const char* home = getenv("HOME");
  std::string cache = getenv("TANDEM_CACHE") ? std::string(getenv("TANDEM_CACHE"))
                                             : std::string(home ? home : "/") + "/.cache/tandem";
  std::filesystem::path dir = std::filesystem::path(cache) / "riscv64";
  if (!std::filesystem::exists(dir / "busybox") ||
      !std::filesystem::exists(dir / "modules/modules.dep"))
    GTEST_SKIP() << "no fetched guest in " << dir << " (run scripts/fetch-riscv-guest.sh)";
  InitramfsOptions o;
  o.busybox = (dir / "busybox").string();
  o.modules_dir = (dir / "modules").string();
  auto a = build_initramfs(o);
  std::string s(a.begin(), a.end());
  EXPECT_NE(s.find("virtio_mmio.ko"), std::string::npos);
  EXPECT_NE(s.find("ext4.ko"), std::string::npos);
  EXPECT_NE(s.find("crc32c_generic.ko"), std::string::npos)  // ext4's checksums
      << dir << " was fetched by an older scripts/fetch-riscv-guest.sh: run it again";
  EXPECT_NE(s.find("virtio-rng.ko"), std::string::npos);
  EXPECT_GT(a.size(), 1u << 20);

  // The real busybox's shell must accept both forms of /init (qemu-user runs it, when present).
  if (access("/usr/bin/qemu-riscv64", X_OK) != 0) return;
  TempDir tmp;
  for (bool autorun : {false, true}) {
    write_file(tmp.path() / "init", init_script(autorun));
    int status;
    std::string out = run("/usr/bin/qemu-riscv64 " + (dir / "busybox").string() + " sh -n " +
                              (tmp.path() / "init").string(),
                          &status);
    EXPECT_EQ(status, 0) << out;
  }
}

}  // namespace
}  // namespace tandem::riscv
