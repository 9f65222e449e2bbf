// bench_blk_x86: block I/O through Tandem's virtio-blk on the KVM x86 machine, next to the same I/O
// issued by the host on the same raw image, in one run. The guest side is the virtio test guest's
// own driver at CPL3 (tests/guests/x86/drivers/virtio_bench.c), polling its used ring; the host
// side is io_uring with the same request sizes, queue depths and caching mode (page cache for
// cache=writeback, O_DIRECT for cache=none). In order, each at queue depth 1 and 32:
//   seq_write  1 MiB requests over the first --bytes of the image
//   seq_read   1 MiB requests over the same range
//   rand_read  4 KiB requests at random 4 KiB-aligned offsets of the whole image
// Prints MB/s or IOPS for both and guest/host ratios (of the best round each, and the median and
// range of the rounds' own ratios). Run by hand; nothing is asserted.
//
// --formats raw,qcow2 also runs the guest on the same image as qcow2 (issue #6: qcow2 against
// raw), converted from the pattern-filled raw image by `tandem img convert -f raw -O qcow2`
// (64 KiB clusters, every cluster allocated: reads hit data clusters and writes overwrite them in
// place), and adds qcow2/raw ratios. It also boots once per round on a fresh, empty qcow2 (`tandem
// img create`), whose first test (seq_write qd=1) allocates clusters as it writes: that row is
// printed apart (the later tests find the clusters allocated). The host side stays raw.
//
//   bench_blk_x86 [--image-mb N] [--bytes-mb N] [--ios N] [--cache writeback|none]
//                 [--aio io_uring|threads] [--rounds R] [--dir DIR] [--tandem PATH]
//                 [--guest BZIMAGE] [--formats raw,qcow2]
#include <fcntl.h>
#include <liburing.h>
#include <sys/stat.h>
#include <unistd.h>
#include <x86intrin.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "bench/common/host_clock.h"
#include "bench/common/median.h"
#include "bench/common/xorshift.h"
#include "tests/integration/run_command.h"

namespace {

using tandem::bench::host_tsc_khz;
using tandem::bench::median;
using tandem::bench::now_ns;
using tandem::bench::xorshift;

std::vector<std::string> g_temp_files;  // removed on every exit path

[[noreturn]] void die(const std::string& what) {
  for (const std::string& f : g_temp_files) unlink(f.c_str());
  std::fprintf(stderr, "bench_blk_x86: %s\n", what.c_str());
  std::exit(1);
}

struct Result {
  uint64_t ios = 0, bytes = 0;
  double ns = 0;
};

// "bench blk NAME bs=B qd=Q ios=N bytes=B ns=T" -> {"NAME qd=Q": ...}
std::map<std::string, Result> parse_guest(const std::string& console) {
  std::map<std::string, Result> r;
  std::istringstream in(console);
  std::string line;
  while (std::getline(in, line)) {
    char name[32];
    unsigned bs, qd;
    unsigned long ios, bytes, ns;
    if (std::sscanf(line.c_str(), "bench blk %31s bs=%u qd=%u ios=%lu bytes=%lu ns=%lu", name, &bs,
                    &qd, &ios, &bytes, &ns) == 6) {
      r[std::string(name) + " qd=" + std::to_string(qd)] = {ios, bytes, static_cast<double>(ns)};
    }
  }
  return r;
}

// The guest's loop (virtio_bench.c run_one) with io_uring on the host: keep `qd` requests in
// flight, submit a batch, wait for one completion and take every other one already there.
Result host_run(int fd, bool write, uint32_t bs, bool random, uint64_t ios, unsigned qd,
                uint64_t span) {
  io_uring ring;
  if (int e = io_uring_queue_init(qd, &ring, 0); e < 0)
    die("io_uring_queue_init: " + std::string(std::strerror(-e)));
  void* mem = nullptr;
  if (posix_memalign(&mem, 4096, size_t{qd} * bs) != 0) die("out of memory");
  std::unique_ptr<uint8_t, decltype(&std::free)> bufs(static_cast<uint8_t*>(mem), &std::free);
  std::memset(bufs.get(), 0x5a, size_t{qd} * bs);
  std::vector<bool> busy(qd, false);
  const uint64_t slots_in_span = span / bs;
  uint64_t seed = 0x1234567 + qd, next = 0, issued = 0, done = 0;
  double t0 = now_ns();
  while (done < ios) {
    unsigned added = 0;
    while (issued < ios && issued - done < qd) {
      uint64_t slot = random ? xorshift(&seed) % slots_in_span : next++ % slots_in_span;
      unsigned b = 0;
      while (busy[b]) ++b;
      busy[b] = true;
      io_uring_sqe* sqe = io_uring_get_sqe(&ring);
      if (write) {
        io_uring_prep_write(sqe, fd, bufs.get() + size_t{b} * bs, bs, slot * bs);
      } else {
        io_uring_prep_read(sqe, fd, bufs.get() + size_t{b} * bs, bs, slot * bs);
      }
      io_uring_sqe_set_data64(sqe, b);
      ++issued;
      ++added;
    }
    if (added && io_uring_submit(&ring) < 0) die("io_uring_submit");
    io_uring_cqe* cqe;
    if (int e = io_uring_wait_cqe(&ring, &cqe); e < 0)
      die("io_uring_wait_cqe: " + std::string(std::strerror(-e)));
    do {
      if (cqe->res != static_cast<int>(bs)) die("host I/O returned " + std::to_string(cqe->res));
      busy[io_uring_cqe_get_data64(cqe)] = false;
      io_uring_cqe_seen(&ring, cqe);
      ++done;
    } while (io_uring_peek_cqe(&ring, &cqe) == 0);
  }
  double ns = now_ns() - t0;
  io_uring_queue_exit(&ring);
  return {ios, ios * bs, ns};
}

std::string rate(const std::string& name, const Result& r) {
  char buf[64];
  double s = r.ns / 1e9;
  if (name.rfind("rand", 0) == 0) {
    std::snprintf(buf, sizeof buf, "%9.0f IOPS", r.ios / s);
  } else {
    std::snprintf(buf, sizeof buf, "%9.1f MB/s", r.bytes / s / 1e6);
  }
  return buf;
}

// "0.71 (0.62-0.80)": the median of one ratio per round and its range; "" for a single round.
std::string spread(const std::vector<double>& v) {
  if (v.size() < 2) return "";
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f (%.2f-%.2f)", median(v), *lo, *hi);
  return buf;
}

// Throughput ratio a / b (bytes per time), "-" when either is missing.
std::string ratio(const Result& a, const Result& b) {
  if (a.ns <= 0 || b.ns <= 0 || a.bytes == 0 || b.bytes == 0) return "      -";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%6.2fx", (a.bytes / a.ns) / (b.bytes / b.ns));
  return buf;
}

// Runs the tandem binary's `img` tool; dies with its output when it fails.
void tandem_img(const std::string& tandem, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {tandem, "img"};
  argv.insert(argv.end(), args.begin(), args.end());
  tandem::testing::CommandOptions o;
  o.timeout = std::chrono::minutes(10);
  auto r = tandem::testing::run_command(argv, o);
  if (!r.exited || r.exit_code != 0) die("tandem img " + args.at(0) + " failed:\n" + r.describe());
}

uint64_t allocated_mib(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) die("stat " + path + ": " + std::strerror(errno));
  return static_cast<uint64_t>(st.st_blocks) * 512 >> 20;
}

}  // namespace

int main(int argc, char** argv) {
  std::string tandem = TANDEM_BIN, guest = std::string(TANDEM_X86_GUEST_DIR) + "/virtio.bzImage";
  std::string dir = "/var/tmp", cache = "writeback", aio = "io_uring";
  uint64_t image_mb = 1024, bytes_mb = 1024, ios = 200000;
  int rounds = 1;
  bool want_raw = true, want_qcow2 = false;
  for (int i = 1; i < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--help" || k == "-h") {
      std::printf(
          "usage: bench_blk_x86 [--image-mb N (1024)] [--bytes-mb N (1024)] [--ios N (200000)]\n"
          "                     [--cache writeback|none] [--aio io_uring|threads] [--dir DIR]\n"
          "                     [--rounds R (1): guest and host alternate R times, best of each]\n"
          "                     [--tandem PATH] [--guest BZIMAGE (the virtio test guest)]\n"
          "                     [--formats raw,qcow2 (raw): the guest's image formats; qcow2 is\n"
          "                      the raw image converted by tandem img convert, plus a fresh\n"
          "                      empty qcow2 for the allocating seq_write]\n");
      return 0;
    }
    if (i + 1 >= argc) die("option " + k + " needs a value");
    std::string v = argv[i + 1];
    if (k == "--image-mb")
      image_mb = std::strtoull(v.c_str(), nullptr, 0);
    else if (k == "--bytes-mb")
      bytes_mb = std::strtoull(v.c_str(), nullptr, 0);
    else if (k == "--ios")
      ios = std::strtoull(v.c_str(), nullptr, 0);
    else if (k == "--rounds")
      rounds = std::max(1, std::atoi(v.c_str()));
    else if (k == "--cache")
      cache = v;
    else if (k == "--aio")
      aio = v;
    else if (k == "--dir")
      dir = v;
    else if (k == "--tandem")
      tandem = v;
    else if (k == "--guest")
      guest = v;
    else if (k == "--formats") {
      want_raw = want_qcow2 = false;
      std::istringstream list(v);
      for (std::string f; std::getline(list, f, ',');) {
        if (f == "raw")
          want_raw = true;
        else if (f == "qcow2")
          want_qcow2 = true;
        else
          die("--formats wants raw, qcow2 or raw,qcow2 (not '" + f + "')");
      }
      if (!want_raw && !want_qcow2) die("--formats wants raw, qcow2 or raw,qcow2");
    } else
      die("unknown option " + k);
  }
  if (cache != "writeback" && cache != "none") die("--cache must be writeback or none");
  if (bytes_mb == 0 || bytes_mb > image_mb) die("--bytes-mb must be in 1..--image-mb");
  const unsigned kDeep = 32;

  // The image: written once (not sparse) so both sides read real data.
  std::string image = dir + "/tandem-bench-blk-XXXXXX";
  int fd = mkstemp(image.data());
  if (fd < 0) die("mkstemp in " + dir + ": " + std::strerror(errno));
  g_temp_files.push_back(image);
  {
    std::vector<uint8_t> chunk(1 << 20);
    for (size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<uint8_t>(i * 131 + 7);
    for (uint64_t m = 0; m < image_mb; ++m) {
      if (pwrite(fd, chunk.data(), chunk.size(), m << 20) != static_cast<ssize_t>(chunk.size()))
        die("writing the image");
    }
    fsync(fd);
  }
  close(fd);

  // The same data as qcow2 (no 4 KiB of the pattern is all zeroes, so convert allocates every
  // cluster), and the name for the fresh qcow2 each round creates.
  const std::string qcow2 = image + ".qcow2", fresh = image + ".fresh.qcow2";
  double convert_s = 0;
  if (want_qcow2) {
    g_temp_files.push_back(qcow2);
    g_temp_files.push_back(fresh);
    double t0 = now_ns();
    tandem_img(tandem, {"convert", "-q", "-f", "raw", "-O", "qcow2", image, qcow2});
    convert_s = (now_ns() - t0) / 1e9;
  }

  uint64_t khz = host_tsc_khz();
  std::string load;
  {
    std::FILE* f = std::fopen("/proc/loadavg", "r");
    char buf[128] = {};
    if (f && std::fgets(buf, sizeof buf, f)) load = buf;
    if (f) std::fclose(f);
    while (!load.empty() && load.back() == '\n') load.pop_back();
  }
  std::printf(
      "image %s, %lu MiB, sequential over %lu MiB, %lu random reads per depth, cache=%s "
      "aio=%s, host TSC %lu kHz, load %s\n",
      image.c_str(), image_mb, bytes_mb, ios, cache.c_str(), aio.c_str(), khz, load.c_str());
  if (want_qcow2) {
    std::printf(
        "qcow2 %s: tandem img convert -f raw -O qcow2 in %.2f s, %lu MiB allocated; guest drive "
        "file=...,format=qcow2,cache=%s\n",
        qcow2.c_str(), convert_s, allocated_mib(qcow2), cache.c_str());
  }
  std::fflush(stdout);

  std::string append = "bench bench_bytes=" + std::to_string(bytes_mb << 20) +
                       " bench_ios=" + std::to_string(ios) + " bench_qd=" + std::to_string(kDeep) +
                       " tsc_khz=" + std::to_string(khz);
  const uint64_t seq_ios = bytes_mb, span = image_mb << 20;
  struct Test {
    const char* name;
    bool write;
    uint32_t bs;
    bool random;
    uint64_t ios;
  };
  const Test tests[] = {{"seq_write", true, 1 << 20, false, seq_ios},
                        {"seq_read", false, 1 << 20, false, seq_ios},
                        {"rand_read", false, 4096, true, ios}};
  using Results = std::map<std::string, Result>;
  // Every side starts with no dirty pages of the sides before it: with writeback, the kernel's
  // flusher threads would otherwise write those back during the next side's run, on the same two
  // CPUs, and whoever runs later (the qcow2 guest, say) would pay for the others' writes.
  auto settle_page_cache = [] { ::sync(); };
  auto run_guest = [&](const std::string& drive) {
    settle_page_cache();
    tandem::testing::CommandOptions o;
    o.timeout = std::chrono::minutes(10);
    auto r =
        tandem::testing::run_command({tandem, "run", "--accel", "kvm", "--kernel", guest,
                                      "--memory", "512M", "--drive", drive, "--append", append},
                                     o);
    Results results = parse_guest(r.out);
    if (!r.exited || r.exit_code != 33 || results.size() != 6) {
      die("guest run failed (--drive " + drive + "):\n" + r.describe());
    }
    return results;
  };
  // Guest, then host on the same file in the same order (then the guest on qcow2), `rounds`
  // times: the machine's load (steal time included) falls on all alike, and each keeps its best
  // time per test.
  Results raw_best, host_best, qcow2_best, fresh_best;
  auto keep_best = [](Results& best, const std::string& key, const Result& r) {
    auto it = best.find(key);
    if (it == best.end() || r.ns < it->second.ns) best[key] = r;
  };
  // Each round's own ratios too (guest/host, qcow2/raw): their median says what a typical round
  // gave, where the best-of figures can pair one side's lucky round with the other's.
  std::map<std::string, std::vector<double>> guest_host_rounds, qcow2_raw_rounds;
  auto throughput = [](const Result& r) { return r.bytes / r.ns; };
  fd = -1;
  for (int round = 0; round < rounds; ++round) {
    Results raw_round, host_round, qcow2_round;
    if (want_raw) {
      raw_round = run_guest("file=" + image + ",cache=" + cache + ",aio=" + aio);
      for (const auto& [key, g] : raw_round) keep_best(raw_best, key, g);
    }

    settle_page_cache();
    fd = open(image.c_str(), O_RDWR | (cache == "none" ? O_DIRECT : 0));
    if (fd < 0) die("open " + image + ": " + std::strerror(errno));
    for (const Test& t : tests) {
      for (unsigned qd : {1u, kDeep}) {
        std::string key = std::string(t.name) + " qd=" + std::to_string(qd);
        host_round[key] =
            host_run(fd, t.write, t.bs, t.random, t.ios, qd, t.random ? span : (seq_ios << 20));
        keep_best(host_best, key, host_round[key]);
      }
    }
    if (round + 1 < rounds) close(fd);

    if (want_qcow2) {
      // aio= carries qcow2's data transfers to allocated clusters too (qcow2_driver.h).
      qcow2_round = run_guest("file=" + qcow2 + ",format=qcow2,cache=" + cache + ",aio=" + aio);
      for (const auto& [key, g] : qcow2_round) keep_best(qcow2_best, key, g);
    }
    const Results& guest_round = want_raw ? raw_round : qcow2_round;
    for (const auto& [key, h] : host_round) {
      guest_host_rounds[key].push_back(throughput(guest_round.at(key)) / throughput(h));
      if (want_raw && want_qcow2) {
        qcow2_raw_rounds[key].push_back(throughput(qcow2_round.at(key)) /
                                        throughput(raw_round.at(key)));
      }
    }
    if (want_qcow2 && want_raw) {  // the fresh qcow2 is only compared with raw
      unlink(fresh.c_str());
      tandem_img(tandem, {"create", "-q", "-f", "qcow2", fresh, std::to_string(image_mb) + "M"});
      for (const auto& [key, g] :
           run_guest("file=" + fresh + ",format=qcow2,cache=" + cache + ",aio=" + aio))
        keep_best(fresh_best, key, g);
      unlink(fresh.c_str());
    }
  }

  // The guest against the host, as before: the raw guest (the qcow2 one with --formats qcow2).
  const Results& guest_best = want_raw ? raw_best : qcow2_best;
  std::printf("%-16s %16s %16s %8s  %s\n", "test", want_raw ? "guest (Tandem)" : "guest qcow2",
              "host", "ratio", "rounds: median (min-max)");
  for (const Test& t : tests) {
    for (unsigned qd : {1u, kDeep}) {
      std::string key = std::string(t.name) + " qd=" + std::to_string(qd);
      const Result &g = guest_best.at(key), &h = host_best.at(key);
      double ratio = (g.bytes / g.ns) / (h.bytes / h.ns);
      std::printf("%-16s %16s %16s %7.2fx  %s\n", key.c_str(), rate(t.name, g).c_str(),
                  rate(t.name, h).c_str(), ratio, spread(guest_host_rounds[key]).c_str());
    }
  }
  if (want_raw && want_qcow2) {
    std::printf("\nqcow2 (every cluster allocated) against raw, both in the guest:\n");
    std::printf("%-16s %16s %16s %10s %11s  %s\n", "test", "guest raw", "guest qcow2", "qcow2/raw",
                "qcow2/host", "qcow2/raw rounds: median (min-max)");
    for (const Test& t : tests) {
      for (unsigned qd : {1u, kDeep}) {
        std::string key = std::string(t.name) + " qd=" + std::to_string(qd);
        const Result &r = raw_best.at(key), &q = qcow2_best.at(key), &h = host_best.at(key);
        std::printf("%-16s %16s %16s %10s %11s  %s\n", key.c_str(), rate(t.name, r).c_str(),
                    rate(t.name, q).c_str(), ratio(q, r).c_str(), ratio(q, h).c_str(),
                    spread(qcow2_raw_rounds[key]).c_str());
      }
    }
    // Only the fresh image's first test allocates: the later ones find its clusters allocated.
    const std::string key = "seq_write qd=1";
    const Result &r = raw_best.at(key), &q = fresh_best.at(key), &h = host_best.at(key);
    std::printf("%-16s %16s %16s %10s %11s  (fresh empty qcow2: allocating writes)\n", key.c_str(),
                rate("seq_write", r).c_str(), rate("seq_write", q).c_str(), ratio(q, r).c_str(),
                ratio(q, h).c_str());
  }
  fdatasync(fd);
  close(fd);
  for (const std::string& f : g_temp_files) unlink(f.c_str());
  return 0;
}
