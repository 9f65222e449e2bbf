// virtio-mmio on the KVM x86 machine, end to end: `tandem run` with virtio devices on the command
// line boots tests/guests/x86/guests/virtio.c, which finds the devices in the DSDT and drives them
// at CPL3 with its own virtio driver (polled and interrupt-driven, level-triggered interrupts).
// The disk tests check the image files on the host side too: the host's pattern is what the guest
// reads, the guest's pattern is what the host finds afterwards, a read-only image stays as it was.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

#include "tests/integration/tandem_runner.h"

namespace tandem::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The guest's image pattern (drivers/virtio_blk.h): 64-bit word k holds pattern_word(seed, k).
uint64_t pattern_word(uint64_t seed, uint64_t k) {
  uint64_t x = k * 0x9e3779b97f4a7c15ull + seed;
  x ^= x >> 31;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 29;
  return x;
}

std::string pattern(uint64_t seed, uint64_t size) {
  std::string data(size, '\0');
  for (uint64_t k = 0; k < size / 8; ++k) {
    uint64_t w = pattern_word(seed, k);
    std::memcpy(data.data() + 8 * k, &w, 8);
  }
  return data;
}

// Sector of the first 512-byte sector whose words are not pattern `seed`, or -1.
int64_t first_sector_not(const std::string& data, uint64_t seed, uint64_t from, uint64_t to) {
  for (uint64_t s = from; s < to; ++s) {
    for (uint64_t k = s * 64; k < (s + 1) * 64; ++k) {
      uint64_t w;
      std::memcpy(&w, data.data() + 8 * k, 8);
      if (w != pattern_word(seed, k)) return static_cast<int64_t>(s);
    }
  }
  return -1;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

constexpr uint64_t kImageSize = 4 << 20;
constexpr uint64_t kSectors = kImageSize / 512;
// Where the guest writes (blk_wstart default 16): 8 sectors, then 1 MiB.
constexpr uint64_t kWriteStart = 16;
constexpr uint64_t kWriteEnd = kWriteStart + 8 + 2048;

// The image after the guest wrote pattern `wseed` over the write range of pattern `seed`.
void expect_guest_wrote(const std::string& after, uint64_t seed, uint64_t wseed) {
  ASSERT_EQ(after.size(), kImageSize);
  EXPECT_EQ(first_sector_not(after, seed, 0, kWriteStart), -1);
  EXPECT_EQ(first_sector_not(after, wseed, kWriteStart, kWriteEnd), -1);
  EXPECT_EQ(first_sector_not(after, seed, kWriteEnd, kSectors), -1);
}

class X86VirtioTest : public TandemTest {
 protected:
  void SetUp() override {
    TandemTest::SetUp();
    if (!have_kvm()) GTEST_SKIP() << "/dev/kvm not accessible";
  }

  CommandResult run(std::vector<std::string> extra, const std::string& append = "") {
    std::vector<std::string> args = {
        "run", "--accel", "kvm", "--kernel", guest_image("virtio.bzImage"), "--memory", "256M"};
    args.insert(args.end(), extra.begin(), extra.end());
    if (!append.empty()) {
      args.push_back("--append");
      args.push_back(append);
    }
    CommandOptions o;
    o.timeout = std::chrono::seconds(60);
    return tandem(args, o);
  }
};

TEST_F(X86VirtioTest, RngPolledAndByLevelTriggeredInterrupts) {
  auto r = run({"-device", "virtio-rng-device"}, "expect_devices=1");
  ASSERT_EQ(r.exit_code, kGuestSuccess) << r.describe();
  // The DSDT places it at the first slot: 0xfeb00000, GSI 16.
  EXPECT_THAT(r.out, HasSubstr("virtio: device 0: id 4 at 0xfeb00000 size 0x200 gsi 16"))
      << r.describe();
  EXPECT_THAT(r.out, HasSubstr("virtio-rng0: polled 2 x 4096 bytes")) << r.describe();
  EXPECT_THAT(r.out, HasSubstr("reads differ")) << r.describe();
  EXPECT_THAT(r.out, HasSubstr("virtio-rng0: interrupt on GSI 16 (level, active high)"))
      << r.describe();
  EXPECT_THAT(r.out, HasSubstr("virtio-rng0: level-triggered: re-delivered while pending (2)"))
      << r.describe();
  EXPECT_THAT(r.out, HasSubstr("virtio: all checks passed (1 rng, 0 blk)")) << r.describe();
}

TEST_F(X86VirtioTest, RngBootedThroughPvh) {
  std::vector<std::string> args = {
      "run",      "--accel", "kvm",     "--kernel",         guest_image("virtio.elf"),
      "--memory", "128M",    "-device", "virtio-rng-device"};
  auto r = tandem(args);
  ASSERT_EQ(r.exit_code, kGuestSuccess) << r.describe();
  EXPECT_THAT(r.out, HasSubstr("virtio: all checks passed (1 rng, 0 blk)")) << r.describe();
}

TEST_F(X86VirtioTest, NoDevicesNoDsdtEntries) {
  auto r = run({}, "expect_devices=0");
  ASSERT_EQ(r.exit_code, kGuestSuccess) << r.describe();
  EXPECT_THAT(r.out, HasSubstr("virtio: all checks passed (0 rng, 0 blk)")) << r.describe();
}

TEST_F(X86VirtioTest, EightDevicesFillGsis16To23) {
  std::vector<std::string> args;
  for (int i = 0; i < 8; ++i) {
    args.push_back("-device");
    args.push_back("virtio-rng-device");
  }
  auto r = run(args, "expect_devices=8");
  ASSERT_EQ(r.exit_code, kGuestSuccess) << r.describe();
  EXPECT_THAT(r.out, HasSubstr("virtio: device 7: id 4 at 0xfeb00e00 size 0x200 gsi 23"))
      << r.describe();
  EXPECT_THAT(r.out, HasSubstr("virtio: all checks passed (8 rng, 0 blk)")) << r.describe();
}

TEST_F(X86VirtioTest, NineDevicesAreRefused) {
  std::vector<std::string> args;
  for (int i = 0; i < 9; ++i) {
    args.push_back("-device");
    args.push_back("virtio-rng-device");
  }
  auto r = run(args);
  EXPECT_NE(r.exit_code, 0) << r.describe();
  EXPECT_NE(r.exit_code, kGuestSuccess) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("8 virtio-mmio slots")) << r.describe();
}

// Host -> guest: the guest reads the host's pattern. Guest -> host: its writes are in the file.
TEST_F(X86VirtioTest, BlkReadsAndWritesTheImage) {
  std::string image = write_file("disk.img", pattern(7, kImageSize));
  auto r = run({"--drive", "file=" + image + ",serial=tandem-disk-1"},
               "expect_devices=1 blk_seed=7 blk_wseed=99");
  ASSERT_EQ(r.exit_code, kGuestSuccess) << r.describe();
  EXPECT_THAT(r.out, HasSubstr("virtio-blk0: capacity 8192 sectors, read-write, id "
                               "'tandem-disk-1' (status 0)"))
      << r.describe();
  EXPECT_THAT(r.out, HasSubstr("virtio-blk0: read 8192 sectors, host pattern ok")) << r.describe();
  EXPECT_THAT(r.out, HasSubstr("virtio-blk0: wrote 2056 sectors at 16, read back ok, flushed"))
      << r.describe();
  std::string after = slurp(image);
  ASSERT_EQ(after.size(), kImageSize);
  expect_guest_wrote(after, 7, 99);
}

// bench/blk's guest side, small: every test at both depths completes with status OK (the queue
// kept 32 requests in flight, completions reaped in batches) and the timings are printed.
TEST_F(X86VirtioTest, BlkBenchModeRunsEveryTest) {
  std::string image = write_file("disk.img", pattern(7, kImageSize));
  auto r = run({"--drive", "file=" + image}, "bench bench_bytes=2M bench_ios=500 bench_qd=32");
  ASSERT_EQ(r.exit_code, kGuestSuccess) << r.describe();
  for (const char* line :
       {"bench blk seq_write bs=1048576 qd=1 ios=2 bytes=2097152 ns=",
        "bench blk seq_write bs=1048576 qd=32 ios=2 ", "bench blk seq_read bs=1048576 qd=1 ios=2 ",
        "bench blk seq_read bs=1048576 qd=32 ios=2 ",
        "bench blk rand_read bs=4096 qd=1 ios=500 bytes=2048000 ns=",
        "bench blk rand_read bs=4096 qd=32 ios=500 ", "bench done"})
    EXPECT_THAT(r.out, HasSubstr(line)) << r.describe();
}

// The VM is torn down by a process that outlives Tandem (kvm/async_teardown.h). It must hold
// nothing a user of Tandem waits for: not the output pipes (the runner reads them to their end)
// and not the image's lock, which a second VM started at once must get. Same with it off.
TEST_F(X86VirtioTest, AsyncTeardownHoldsNeitherPipesNorImageLocks) {
  std::string image = write_file("disk.img", pattern(7, kImageSize));
  for (const char* mode : {"async-teardown=on", "async-teardown=off", "async-teardown=on"}) {
    auto r = run({"-run-with", mode, "--drive", "file=" + image},
                 "expect_devices=1 blk_seed=7 blk_wseed=7");
    ASSERT_EQ(r.exit_code, kGuestSuccess) << mode << "\n" << r.describe();
    EXPECT_LT(r.seconds, 30) << mode;
  }
}

// A qcow2 image made by qemu-img, its format probed: the guest reads qemu-img's data and writes
// its own, and afterwards qemu-img finds the image clean and reads the guest's bytes.
TEST_F(X86VirtioTest, BlkOnQcow2ImageInteroperatesWithQemuImg) {
  if (std::system("qemu-img --version >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "qemu-img not installed (qemu-utils)";
  }
  std::string raw = write_file("disk.raw", pattern(7, kImageSize));
  std::string image = dir_ + "/disk.qcow2";
  ASSERT_EQ(std::system(("qemu-img convert -f raw -O qcow2 -o cluster_size=65536 " + raw + " " +
                         image + " >/dev/null 2>&1")
                            .c_str()),
            0);
  auto r = run({"--drive", "file=" + image}, "expect_devices=1 blk_seed=7 blk_wseed=99");
  ASSERT_EQ(r.exit_code, kGuestSuccess) << r.describe();
  EXPECT_THAT(r.out, HasSubstr("virtio-blk0: read 8192 sectors, host pattern ok")) << r.describe();
  EXPECT_THAT(r.err, Not(HasSubstr("probing guessed raw"))) << r.describe();
  ASSERT_EQ(std::system(("qemu-img check -q " + image + " >/dev/null 2>&1").c_str()), 0);
  std::string back = dir_ + "/back.raw";
  ASSERT_EQ(
      std::system(
          ("qemu-img convert -f qcow2 -O raw " + image + " " + back + " >/dev/null 2>&1").c_str()),
      0);
  std::string after = slurp(back);
  ASSERT_EQ(after.size(), kImageSize);
  expect_guest_wrote(after, 7, 99);
}

// A raw image given without format= works, with QEMU's warning about probing raw images.
TEST_F(X86VirtioTest, ProbedRawImageWarns) {
  std::string image = write_file("disk.img", pattern(7, kImageSize));
  auto r = run({"--drive", "file=" + image}, "expect_devices=1 blk_seed=7 blk_wseed=7");
  ASSERT_EQ(r.exit_code, kGuestSuccess) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("probing guessed raw")) << r.describe();
  auto explicit_raw =
      run({"--drive", "file=" + image + ",format=raw"}, "expect_devices=1 blk_seed=7 blk_wseed=7");
  ASSERT_EQ(explicit_raw.exit_code, kGuestSuccess) << explicit_raw.describe();
  EXPECT_THAT(explicit_raw.err, Not(HasSubstr("probing"))) << explicit_raw.describe();
}

// The guest's check of the host's data is real: a wrong expectation fails the run.
TEST_F(X86VirtioTest, BlkWrongHostPatternFails) {
  std::string image = write_file("disk.img", pattern(7, kImageSize));
  auto r = run({"--drive", "file=" + image}, "blk_seed=8");
  EXPECT_EQ(r.exit_code, kGuestCheckFailed) << r.describe();
  EXPECT_THAT(r.out, HasSubstr("neither the host's pattern nor ours")) << r.describe();
}

TEST_F(X86VirtioTest, BlkReadOnlyDriveRefusesWrites) {
  std::string original = pattern(5, kImageSize);
  std::string image = write_file("ro.img", original);
  auto r = run({"--drive", "file=" + image + ",readonly=on"}, "blk_seed=5");
  ASSERT_EQ(r.exit_code, kGuestSuccess) << r.describe();
  EXPECT_THAT(r.out, HasSubstr("virtio-blk0: capacity 8192 sectors, read-only")) << r.describe();
  EXPECT_THAT(r.out, HasSubstr("virtio-blk0: write refused (IOERR), contents unchanged"))
      << r.describe();
  EXPECT_TRUE(slurp(image) == original) << "the read-only image changed";
}

// QEMU's spelling with if=none and an explicit -device, mixed with an rng: command-line order is
// the order of the slots (and _UIDs).
TEST_F(X86VirtioTest, QemuStyleDevicesInCommandLineOrder) {
  std::string rw = write_file("rw.img", pattern(1, kImageSize));
  std::string ro = write_file("ro.img", pattern(1, kImageSize));
  auto r =
      run({"-drive", "if=none,id=disk0,file=" + rw, "-drive",
           "if=none,id=disk1,readonly=on,file=" + ro, "-device", "virtio-blk-device,drive=disk1",
           "-device", "virtio-rng-device", "-device", "virtio-blk-device,drive=disk0"},
          "expect_devices=3");
  ASSERT_EQ(r.exit_code, kGuestSuccess) << r.describe();
  EXPECT_THAT(r.out, HasSubstr("virtio: device 0: id 2 at 0xfeb00000 size 0x200 gsi 16"));
  EXPECT_THAT(r.out, HasSubstr("virtio: device 1: id 4 at 0xfeb00200 size 0x200 gsi 17"));
  EXPECT_THAT(r.out, HasSubstr("virtio: device 2: id 2 at 0xfeb00400 size 0x200 gsi 18"));
  EXPECT_THAT(r.out, HasSubstr("virtio-blk0: write refused (IOERR)")) << r.describe();
  EXPECT_THAT(r.out, HasSubstr("virtio-blk2: wrote 2056 sectors")) << r.describe();
  EXPECT_THAT(r.out, HasSubstr("virtio: all checks passed (1 rng, 2 blk)")) << r.describe();
  EXPECT_EQ(first_sector_not(slurp(ro), 1, 0, kSectors), -1);
  EXPECT_EQ(first_sector_not(slurp(rw), 2, kWriteStart, kWriteEnd), -1);
}

TEST_F(X86VirtioTest, MissingImageIsAClearError) {
  auto r = run({"--drive", "file=" + dir_ + "/does-not-exist.img"});
  EXPECT_NE(r.exit_code, 0) << r.describe();
  EXPECT_NE(r.exit_code, kGuestSuccess) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("does-not-exist.img")) << r.describe();
  EXPECT_THAT(r.err, Not(HasSubstr("terminate called"))) << r.describe();
}

}  // namespace
}  // namespace tandem::testing
