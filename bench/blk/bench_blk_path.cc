// bench_blk_path: what Tandem's virtio-blk request path costs per request, without a guest.
//
// One thread plays driver and I/O thread in turn: it adds 4 KiB read chains at random offsets
// to a virtqueue in guest RAM (the test driver, tests' own Linux-like virtio driver), keeps
// `--depth` of them in flight and calls the event loop's pollers (EventLoop::poll_once) as the
// I/O thread's spin would: VirtioMmio pops the chains, VirtioBlk hands them to RawDriver and
// io_uring, the completions come back through the used ring. Next to it, in the same run, the
// same reads straight through io_uring on the same file, at the same depth, into a buffer per
// slot. The difference of the two is the device model's own work per request (plus the test
// driver's), free of the cross-core traffic and guest exits of a real VM: the figure to watch
// while trimming the request path (issue #5). Both sides read from the page cache (the image is
// written through it first). Prints, per round and as medians, wall-clock ns per request and the
// user-mode CPU ns per request (the device model's own code, less noisy than the wall clock, which
// carries the kernel's page-cache copy); nothing is asserted.
//
//   bench_blk_path [--image-mb N] [--ios N] [--depth N] [--rounds R] [--dir DIR]
//                  [--only host|device]
#include <fcntl.h>
#include <liburing.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "base/event_loop.h"
#include "bench/common/host_clock.h"
#include "bench/common/median.h"
#include "bench/common/xorshift.h"
#include "block/raw_driver.h"
#include "hw/virtio/blk/virtio_blk.h"
#include "hw/virtio/test_driver.h"
#include "hw/virtio/virtio_defs.h"
#include "hw/virtio/virtio_mmio.h"
#include "memory/guest_ram.h"

namespace {

using namespace tandem;
using tandem::bench::median;
using tandem::bench::now_ns;
using tandem::bench::xorshift;

constexpr uint64_t kBlock = 4096;
constexpr uint64_t kRamBase = 0x40000000;
constexpr uint64_t kRamSize = 64 << 20;
constexpr uint16_t kQueueSize = 256;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "bench_blk_path: %s\n", what.c_str());
  std::exit(1);
}

// User-mode CPU time of the calling thread: the device model's share of a round (the kernel's
// share, the page-cache copy, is the same for both sides).
double user_ns() {
  rusage ru{};
  getrusage(RUSAGE_THREAD, &ru);
  return ru.ru_utime.tv_sec * 1e9 + ru.ru_utime.tv_usec * 1e3;
}

struct RoundTime {
  double ns = 0;       // wall time per request
  double user_ns = 0;  // user-mode CPU time per request
};

struct Options {
  uint64_t image_mb = 512;
  uint64_t ios = 1000000;
  unsigned depth = 32;
  int rounds = 5;
  std::string dir = "/var/tmp";
  std::string only;  // "host" or "device": run that side alone (for profiling it)
};

// The same reads straight through io_uring.
RoundTime host_round(int fd, const Options& o, uint64_t slots) {
  io_uring ring;
  if (io_uring_queue_init(o.depth, &ring, 0) < 0) die("io_uring_queue_init");
  std::vector<uint8_t> bufs_storage(o.depth * kBlock + kBlock);
  uint8_t* bufs = reinterpret_cast<uint8_t*>(
      (reinterpret_cast<uintptr_t>(bufs_storage.data()) + kBlock - 1) & ~(kBlock - 1));
  std::vector<unsigned> free_slots;
  for (unsigned i = 0; i < o.depth; ++i) free_slots.push_back(i);
  uint64_t seed = 0x1234567, issued = 0, done = 0;
  double t0 = now_ns(), u0 = user_ns();
  while (done < o.ios) {
    unsigned added = 0;
    while (issued < o.ios && !free_slots.empty()) {
      unsigned b = free_slots.back();
      free_slots.pop_back();
      io_uring_sqe* sqe = io_uring_get_sqe(&ring);
      io_uring_prep_read(sqe, fd, bufs + b * kBlock, kBlock, (xorshift(&seed) % slots) * kBlock);
      io_uring_sqe_set_data64(sqe, b);
      ++issued;
      ++added;
    }
    if (added) io_uring_submit(&ring);
    io_uring_cqe* cqe;
    if (io_uring_wait_cqe(&ring, &cqe) < 0) die("io_uring_wait_cqe");
    do {
      if (cqe->res != static_cast<int>(kBlock)) die("host read failed");
      free_slots.push_back(static_cast<unsigned>(io_uring_cqe_get_data64(cqe)));
      io_uring_cqe_seen(&ring, cqe);
      ++done;
    } while (io_uring_peek_cqe(&ring, &cqe) == 0);
  }
  RoundTime t{(now_ns() - t0) / static_cast<double>(o.ios),
              (user_ns() - u0) / static_cast<double>(o.ios)};
  io_uring_queue_exit(&ring);
  return t;
}

// The reads through virtio-blk.
RoundTime device_round(const std::string& path, const Options& o, uint64_t slots) {
  GuestRam ram;
  ram.add_region(kRamBase, kRamSize);
  testing::FakeIrq irq;
  EventLoop loop;
  RawDriver::Options ro;
  auto raw = RawDriver::open(path, ro, loop);
  if (std::string(raw->aio_name()) != "io_uring") die("io_uring unavailable");
  auto mmio = VirtioMmio::create(std::make_unique<VirtioBlk>(std::move(raw), VirtioBlk::Options{}),
                                 ram, irq, loop);
  testing::TestDriver driver(*mmio, ram, kRamBase, kRamSize);
  using virtio::feature_bit;
  const uint64_t features = feature_bit(virtio::kFeatureVersion1) |
                            feature_bit(virtio::kFeatureIndirectDesc) |
                            feature_bit(virtio::kFeatureEventIdx);
  if (!driver.init(driver.device_features() & (features | 0xffffff), 1, kQueueSize)) {
    die("virtio-blk initialisation failed");
  }
  struct Slot {
    uint64_t header, data, status;
  };
  std::vector<Slot> slot(o.depth);
  for (Slot& s : slot) {
    s.header = driver.alloc(16);
    s.data = driver.alloc(kBlock, kBlock);
    s.status = driver.alloc(1, 1);
  }
  // Every chain takes three descriptors: the test driver hands them out round-robin, so a
  // queue of kQueueSize holds depth chains as long as 3 * depth <= kQueueSize.
  if (3 * o.depth > kQueueSize) die("--depth is at most 85");
  std::vector<unsigned> free_slots;
  for (unsigned i = 0; i < o.depth; ++i) free_slots.push_back(i);
  std::vector<int> slot_of_head(kQueueSize, -1);
  std::vector<testing::Buf> chain(3);
  uint64_t seed = 0x1234567, issued = 0, done = 0;
  double t0 = now_ns(), u0 = user_ns();
  while (done < o.ios) {
    while (issued < o.ios && !free_slots.empty()) {
      unsigned b = free_slots.back();
      free_slots.pop_back();
      const Slot& s = slot[b];
      ram.store<uint32_t>(s.header, VirtioBlk::kTypeIn);
      ram.store<uint32_t>(s.header + 4, 0);
      ram.store<uint64_t>(s.header + 8, (xorshift(&seed) % slots) * (kBlock / 512));
      ram.store<uint8_t>(s.status, 0xff);
      chain[0] = {s.header, 16, false};
      chain[1] = {s.data, static_cast<uint32_t>(kBlock), true};
      chain[2] = {s.status, 1, true};
      slot_of_head[driver.add_chain(0, chain)] = static_cast<int>(b);
      ++issued;
    }
    loop.poll_once();
    while (auto used = driver.get_used(0)) {
      int b = slot_of_head.at(used->id);
      if (b < 0 || ram.load<uint8_t>(slot[b].status) != VirtioBlk::kStatusOk) {
        die("device read failed");
      }
      slot_of_head[used->id] = -1;
      free_slots.push_back(static_cast<unsigned>(b));
      ++done;
    }
  }
  return {(now_ns() - t0) / static_cast<double>(o.ios),
          (user_ns() - u0) / static_cast<double>(o.ios)};
}

uint64_t number(const char* flag, const char* v) {
  char* end = nullptr;
  uint64_t n = std::strtoull(v, &end, 10);
  if (!*v || *end || n == 0) die(std::string(flag) + " wants a positive number, not '" + v + "'");
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) die("unknown option or missing value: " + a);
    const char* v = argv[++i];
    if (a == "--image-mb") {
      o.image_mb = number("--image-mb", v);
    } else if (a == "--ios") {
      o.ios = number("--ios", v);
    } else if (a == "--depth") {
      o.depth = static_cast<unsigned>(number("--depth", v));
    } else if (a == "--rounds") {
      o.rounds = static_cast<int>(number("--rounds", v));
    } else if (a == "--dir") {
      o.dir = v;
    } else if (a == "--only") {
      o.only = v;
      if (o.only != "host" && o.only != "device") die("--only wants host or device");
    } else {
      die("unknown option " + a);
    }
  }
  std::string path = o.dir + "/bench-blk-path-XXXXXX";
  int fd = mkstemp(path.data());
  if (fd < 0) die("cannot create an image in " + o.dir);
  struct Unlink {
    std::string p;
    ~Unlink() { unlink(p.c_str()); }
  } unlink_at_exit{path};
  // Pattern-filled, written through the page cache so that both sides read cached pages.
  std::vector<uint8_t> chunk(1 << 20);
  for (uint64_t mb = 0; mb < o.image_mb; ++mb) {
    for (size_t i = 0; i < chunk.size(); i += 8) std::memcpy(&chunk[i], &mb, 8);
    if (pwrite(fd, chunk.data(), chunk.size(), static_cast<off_t>(mb << 20)) !=
        static_cast<ssize_t>(chunk.size())) {
      die("cannot write the image");
    }
  }
  const uint64_t slots = (o.image_mb << 20) / kBlock;
  std::printf("4 KiB random reads, depth %u, %lu per round, %lu MiB image (page cache)\n", o.depth,
              o.ios, o.image_mb);
  std::printf("%-6s %12s %12s %12s %14s %14s\n", "round", "host ns/req", "device ns/req",
              "difference", "host user ns", "device user ns");
  std::vector<double> host, device, diff, host_user, device_user;
  for (int r = 0; r < o.rounds; ++r) {
    RoundTime h = o.only == "device" ? RoundTime{} : host_round(fd, o, slots);
    RoundTime d = o.only == "host" ? RoundTime{} : device_round(path, o, slots);
    host.push_back(h.ns);
    device.push_back(d.ns);
    diff.push_back(d.ns - h.ns);
    host_user.push_back(h.user_ns);
    device_user.push_back(d.user_ns);
    std::printf("%-6d %12.0f %12.0f %12.0f %14.0f %14.0f\n", r + 1, h.ns, d.ns, d.ns - h.ns,
                h.user_ns, d.user_ns);
  }
  std::printf("%-6s %12.0f %12.0f %12.0f %14.0f %14.0f\n", "median", median(host), median(device),
              median(diff), median(host_user), median(device_user));
  if (o.only.empty()) std::printf("host/device %.2f\n", median(host) / median(device));
  close(fd);
  return 0;
}
