// bench_blk_riscv: virtio-blk disk I/O measured inside the Debian riscv64 guest, under `tandem
// run -M virt` and under `qemu-system-riscv64 -M virt` with the same kernel, OpenSBI
// fw_jump.bin, initramfs and command line, in one run. Each boot gets a fresh sparse raw image
// (512 MiB by default), attached the same way to both:
//   -drive file=IMG,format=raw,if=none,id=d0,cache=none -device virtio-blk-device,drive=d0
// and the initramfs's autorun script runs bench/blk-riscv/blkbench.c (riscv64, static) on
// /dev/vda, all with O_DIRECT in the guest:
//   seq write     1 MiB writes over the first 256 MiB, then fdatasync      MB/s (10^6 B/s)
//   seq read      1 MiB reads of the same range                             MB/s
//   rand 4K QD1   4 KiB reads at random offsets, one at a time               IOPS
//   rand 4K x32   the same from 32 threads doing pread (32 requests in flight: the guest has no
//                 libaio or io_uring, so threads stand in for queue depth)    IOPS
// blkbench times each phase with the guest's clock_gettime (the guest timer runs in real time
// under both emulators), stamps every 4 KiB block it writes and checks every block it reads
// back, and prints its results; this program collects them. Runs alternate between the two;
// the best of `--runs` and the median run are printed. T/Q above 1 means Tandem is faster.
// --formats raw,qcow2 runs every emulator on both a raw image and a fresh qcow2 image of the same
// size (made by `tandem img create -f qcow2`, default 64 KiB clusters, so the sequential writes
// allocate clusters as they go) and adds each emulator's qcow2/raw ratios (above 1: qcow2 is
// faster); --no-qemu leaves QEMU out (bench/img documents the qcow2 figures).
// Needs scripts/fetch-riscv-guest.sh (the guest) and qemu-system-misc (the peer). The image
// goes to --dir (the temporary directory by default), whose file system must support O_DIRECT
// for cache=none (tmpfs does not). Run by hand; nothing is asserted beyond the data checks:
//
//   build/bench/blk-riscv/bench_blk_riscv [--runs N] [--cache none|writeback] [--size-mib N]
//       [--image-mib N] [--count N] [--threads N] [--cpus N] [--memory 512M] [--dir DIR]
//       [--tandem PATH] [--qemu PATH] [--guest DIR] [--timeout SECONDS] [--formats raw,qcow2]
//       [--no-qemu] [-v]
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/file_util.h"
#include "base/unique_fd.h"
#include "bench/common/guest_process.h"
#include "bench/common/median.h"
#include "machine/riscv/default_guest.h"
#include "machine/riscv/initramfs/initramfs_builder.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Options {
  int runs = 1;
  std::string cache = "none";
  long size_mib = 256;   // the sequential range, also where the random reads land
  long image_mib = 512;  // the raw image
  long count = 20000;    // random reads per random phase
  long threads = 32;
  unsigned cpus = 1;
  std::string memory = "512M";
  std::string dir;
  std::string tandem = TANDEM_BIN;
  std::string qemu = "/usr/bin/qemu-system-riscv64";
  std::string guest;
  int timeout = 900;
  bool verbose = false;
  std::vector<std::string> formats = {"raw"};
  bool qemu_peer = true;
};

// The phases blkbench reports, by the name it prints.
struct Phase {
  const char* name;
  const char* label;
};
constexpr Phase kPhases[] = {
    {"seq-write", "seq write 1M"},
    {"seq-read", "seq read 1M"},
    {"rand-qd1", "rand 4K QD1"},
    {"rand-thr", "rand 4K thr"},
};

struct Run {
  std::map<std::string, double> value;  // phase -> MB/s or IOPS
  std::map<std::string, std::string> unit;
  bool verified = false;
  std::string error;  // blkbench's first ERROR line
  int status = -1;    // exit status; -1 when killed or signalled
  bool timed_out = false;
  double seconds = NAN;  // the whole boot
  std::string output;

  bool ok() const {
    return status == 0 && verified && error.empty() && value.size() == std::size(kPhases);
  }
};

// A fresh image: sparse raw, as `qemu-img create -f raw` makes it, or an empty qcow2 made by
// `tandem img create -f qcow2`.
void create_image(const fs::path& path, long mib, const std::string& format,
                  const std::string& tandem) {
  fs::remove(path);
  if (format == "qcow2") {
    tandem::bench::GuestProcess p = tandem::bench::run_guest_process(
        {tandem, "img", "create", "-q", "-f", "qcow2", path.string(), fmt::format("{}M", mib)}, 60);
    if (p.status != 0) tandem::fail("cannot create {}: {}", path.string(), p.output);
    return;
  }
  tandem::UniqueFd fd(open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600));
  if (!fd) tandem::fail_errno("cannot create {}", path.string());
  if (ftruncate(fd.get(), static_cast<off_t>(mib) << 20) != 0) {
    tandem::fail_errno("cannot size {}", path.string());
  }
}

// Picks blkbench's lines out of the console output.
void parse(Run& run) {
  std::istringstream in(run.output);
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
    const auto at = line.find("blkbench: ");
    if (at == std::string::npos) continue;
    std::istringstream words(line.substr(at + 10));
    std::string kind;
    words >> kind;
    if (kind == "result") {
      std::string name, unit;
      double value = NAN;
      if (words >> name >> value >> unit && std::isfinite(value) && value > 0) {
        run.value[name] = value;
        run.unit[name] = unit;
      }
    } else if (kind == "verify") {
      run.verified = line.find("verify ok") != std::string::npos;
    } else if (kind == "ERROR" && run.error.empty()) {
      run.error = line.substr(at);
    }
  }
}

// Runs argv (bench/common/guest_process.h) and picks blkbench's results out of its output.
Run run_guest(const std::vector<std::string>& argv, int timeout_s) {
  tandem::bench::GuestProcess p = tandem::bench::run_guest_process(argv, timeout_s);
  Run run;
  run.output = std::move(p.output);
  run.status = p.status;
  run.timed_out = p.timed_out;
  run.seconds = p.seconds;
  parse(run);
  return run;
}

std::string fmt_v(double v) {
  return std::isnan(v) ? std::string("-") : fmt::format("{:.1f}", v);
}

int usage(const char* why) {
  std::fprintf(stderr,
               "bench_blk_riscv: %s\nusage: bench_blk_riscv [--runs N] [--cache none|writeback] "
               "[--size-mib N] [--image-mib N] [--count N] [--threads N] [--cpus N] [--memory "
               "SIZE] [--dir DIR] [--tandem PATH] [--qemu PATH] [--guest DIR] [--timeout "
               "SECONDS] [--formats raw,qcow2] [--no-qemu] [-v]\n",
               why);
  return 2;
}

bool positive(const std::string& v, long& out) {
  char* end = nullptr;
  errno = 0;
  out = std::strtol(v.c_str(), &end, 10);
  return errno == 0 && end != v.c_str() && *end == 0 && out > 0;
}

}  // namespace

int main(int argc, char** argv) try {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (k == "-v") {
      o.verbose = true;
      continue;
    }
    if (k == "--no-qemu") {
      o.qemu_peer = false;
      continue;
    }
    if (k == "-h" || k == "--help") {
      std::printf(
          "bench_blk_riscv: virtio-blk I/O inside the Debian riscv64 guest, tandem run vs "
          "qemu-system-riscv64\n"
          "  --runs N        runs of each, alternating; best and median printed (1)\n"
          "  --cache MODE    none (O_DIRECT on the host) or writeback (none)\n"
          "  --size-mib N    MiB written and read sequentially (256)\n"
          "  --image-mib N   size of each fresh raw image (512)\n"
          "  --count N       4 KiB random reads per random phase (20000)\n"
          "  --threads N     threads of the threaded random phase (32)\n"
          "  --cpus N        harts (1)\n"
          "  --memory SIZE   guest RAM (512M)\n"
          "  --dir DIR       where the images go (the temporary directory)\n"
          "  --tandem PATH   the tandem binary (%s)\n"
          "  --qemu PATH     qemu-system-riscv64 (/usr/bin/qemu-system-riscv64)\n"
          "  --guest DIR     the fetched guest (${TANDEM_CACHE:-~/.cache/tandem}/riscv64)\n"
          "  --timeout S     per boot (900)\n"
          "  --formats LIST  image formats, comma-separated: raw, qcow2 (raw)\n"
          "  --no-qemu       run tandem alone (with --formats raw,qcow2: qcow2 vs raw)\n"
          "  -v              print every console\n",
          TANDEM_BIN);
      return 0;
    }
    if (i + 1 >= argc) return usage(("option " + k + " needs a value").c_str());
    std::string v = argv[++i];
    long n = 0;
    const bool num = positive(v, n);
    if (k == "--cache") {
      if (v != "none" && v != "writeback") return usage("--cache wants none or writeback");
      o.cache = v;
      continue;
    }
    if (k == "--formats") {
      o.formats.clear();
      std::istringstream list(v);
      for (std::string f; std::getline(list, f, ',');) {
        if (f != "raw" && f != "qcow2") return usage("--formats wants raw, qcow2 or raw,qcow2");
        if (std::find(o.formats.begin(), o.formats.end(), f) == o.formats.end()) {
          o.formats.push_back(f);
        }
      }
      if (o.formats.empty()) return usage("--formats wants raw, qcow2 or raw,qcow2");
      continue;
    }
    if (k == "--memory") {
      o.memory = v;
    } else if (k == "--dir") {
      o.dir = v;
    } else if (k == "--tandem") {
      o.tandem = v;
    } else if (k == "--qemu") {
      o.qemu = v;
    } else if (k == "--guest") {
      o.guest = v;
    } else if (k == "--runs" || k == "--size-mib" || k == "--image-mib" || k == "--count" ||
               k == "--threads" || k == "--cpus" || k == "--timeout") {
      if (!num) return usage((k + " wants a positive number").c_str());
      if (k == "--runs") o.runs = static_cast<int>(std::min(n, 1000L));
      if (k == "--size-mib") o.size_mib = n;
      if (k == "--image-mib") o.image_mib = n;
      if (k == "--count") o.count = n;
      if (k == "--threads") o.threads = n;
      if (k == "--cpus") o.cpus = static_cast<unsigned>(std::min(n, 64L));
      if (k == "--timeout") o.timeout = static_cast<int>(std::min(n, 86400L));
    } else {
      return usage(("unknown option " + k).c_str());
    }
  }
  if (o.size_mib > o.image_mib) return usage("--size-mib must not exceed --image-mib");
  if (o.threads > 256) return usage("--threads: at most 256");
  const fs::path guest = o.guest.empty() ? tandem::riscv::default_guest_dir() : o.guest;
  for (const char* part : {"fw_jump.bin", "Image", "busybox", "modules/modules.dep"}) {
    if (!fs::exists(guest / part)) {
      tandem::fail("{} is missing: run scripts/fetch-riscv-guest.sh", (guest / part).string());
    }
  }
  for (const std::string& bin : {o.tandem, o.qemu}) {
    if (bin == o.qemu && !o.qemu_peer) continue;
    if (access(bin.c_str(), X_OK) != 0) {
      tandem::fail("{} is not there (qemu-system-riscv64: apt-get install qemu-system-misc)", bin);
    }
  }

  const fs::path base = o.dir.empty() ? fs::temp_directory_path() : fs::path(o.dir);
  const fs::path work = base / fmt::format("tandem-blk-bench-{}", getpid());
  fs::create_directories(work);

  // The initramfs: the default guest's, whose /init loads virtio_blk, runs this script and then
  // powers off (or, when it fails, ends the VM with its status through the test finisher).
  tandem::riscv::InitramfsOptions init;
  init.busybox = (guest / "busybox").string();
  init.modules_dir = (guest / "modules").string();
  init.autorun = fmt::format(
      "if [ ! -b /dev/vda ]; then echo 'blkbench: ERROR no /dev/vda'; ls /sys/class/block; "
      "exit 1; fi\n"
      "/usr/bin/blkbench /dev/vda {} {} {}\n",
      o.size_mib, o.count, o.threads);
  init.extra_files.push_back({"usr/bin/blkbench", tandem::read_file(BLKBENCH_BIN), 0755});
  const std::vector<uint8_t> cpio = tandem::riscv::build_initramfs(init);
  const fs::path initrd = work / "initrd.cpio";
  {
    std::ofstream f(initrd, std::ios::binary);
    f.write(reinterpret_cast<const char*>(cpio.data()), static_cast<std::streamsize>(cpio.size()));
    if (!f) tandem::fail("cannot write {}", initrd.string());
  }

  const std::string append = "console=ttyS0";
  const std::string cpus = std::to_string(o.cpus);
  // One configuration per emulator and image format, e.g. "tandem" or "qemu/qcow2" (the format
  // is named when there are several).
  auto argv_of = [&](const std::string& emulator, const std::string& format) {
    const fs::path image = work / ("disk." + format);
    const std::string drive =
        fmt::format("file={},format={},if=none,id=d0,cache={}", image.string(), format, o.cache);
    std::vector<std::string> a = {emulator == "tandem" ? o.tandem : o.qemu,
                                  "-M",
                                  "virt",
                                  "-bios",
                                  (guest / "fw_jump.bin").string(),
                                  "-kernel",
                                  (guest / "Image").string(),
                                  "-initrd",
                                  initrd.string(),
                                  "-append",
                                  append,
                                  "-m",
                                  o.memory,
                                  "-smp",
                                  cpus,
                                  "-nographic",
                                  "-drive",
                                  drive,
                                  "-device",
                                  "virtio-blk-device,drive=d0"};
    if (emulator == "tandem") {
      a.insert(a.begin() + 1, "run");
    } else {
      a.insert(a.end() - 4, "-no-reboot");
    }
    return a;
  };
  struct Config {
    std::string name, emulator, format;
    std::vector<std::string> argv;
  };
  std::vector<Config> order;
  for (const char* emulator : {"tandem", "qemu"}) {
    if (std::string(emulator) == "qemu" && !o.qemu_peer) continue;
    for (const std::string& format : o.formats) {
      const std::string name =
          o.formats.size() > 1 ? fmt::format("{}/{}", emulator, format) : emulator;
      order.push_back({name, emulator, format, argv_of(emulator, format)});
    }
  }

  std::string load;
  {
    std::ifstream loadavg("/proc/loadavg");
    std::getline(loadavg, load);
  }
  std::string formats;
  for (const std::string& f : o.formats) formats += (formats.empty() ? "" : " and ") + f;
  std::printf(
      "bench_blk_riscv: %d runs each, cache=%s, %ld MiB sequential, %ld random reads, %ld threads, "
      "%u hart(s), %s RAM, fresh %ld MiB %s image each boot; load %s\n",
      o.runs, o.cache.c_str(), o.size_mib, o.count, o.threads, o.cpus, o.memory.c_str(),
      o.image_mib, formats.c_str(), load.c_str());
  std::printf("  guest:  %s (Image, fw_jump.bin, busybox)\n", guest.c_str());
  for (const Config& c : order) {
    std::string line;
    for (const auto& a : c.argv) line += (line.empty() ? "" : " ") + a;
    std::printf("  %-12s %s\n", c.name.c_str(), line.c_str());
  }
  std::fflush(stdout);

  std::map<std::string, std::vector<Run>> runs;
  int failures = 0;
  for (int r = 0; r < o.runs; ++r) {
    for (const Config& c : order) {
      const fs::path image = work / ("disk." + c.format);
      create_image(image, o.image_mib, c.format, o.tandem);
      Run run = run_guest(c.argv, o.timeout);
      fs::remove(image);
      if (o.verbose || !run.ok()) {
        std::printf("--- %s run %d: %s, output:\n%s\n---\n", c.name.c_str(), r + 1,
                    run.timed_out ? "timed out" : fmt::format("exit status {}", run.status).c_str(),
                    run.output.c_str());
      }
      if (!run.ok()) ++failures;
      std::string line;
      for (const Phase& p : kPhases) {
        auto it = run.value.find(p.name);
        line += fmt::format("  {} {}", p.name, it == run.value.end() ? "-" : fmt_v(it->second));
      }
      std::printf("  run %d %-12s%s  boot+bench %.1f s  %s\n", r + 1, c.name.c_str(), line.c_str(),
                  run.seconds,
                  run.ok()             ? "verified"
                  : !run.error.empty() ? run.error.c_str()
                  : run.timed_out      ? "TIMED OUT"
                                       : "FAILED");
      std::fflush(stdout);
      runs[c.name].push_back(std::move(run));
    }
  }
  if (!std::getenv("BENCH_KEEP")) fs::remove_all(work);

  // Higher is better for every row: each configuration's best run, or its median run (a single
  // fast or slow outlier of the host's disk moves the first, not the second).
  auto summary = [&](const std::string& name, const char* phase, bool use_median) {
    std::vector<double> values;
    for (const Run& run : runs[name]) {
      if (run.ok()) values.push_back(run.value.at(phase));
    }
    if (values.empty()) return double{NAN};
    return use_median ? tandem::bench::median(values)
                      : *std::max_element(values.begin(), values.end());
  };
  auto ratio = [](double a, double b) {
    return std::isnan(a) || std::isnan(b) || b <= 0 ? std::string("-")
                                                    : fmt::format("{:.2f}", a / b);
  };
  // Columns: each configuration's best, then T/Q per format, then qcow2/raw per emulator.
  std::vector<std::pair<std::string, std::pair<std::string, std::string>>> ratios;
  if (o.qemu_peer) {
    for (const std::string& f : o.formats) {
      const std::string t = o.formats.size() > 1 ? "tandem/" + f : "tandem";
      const std::string q = o.formats.size() > 1 ? "qemu/" + f : "qemu";
      ratios.push_back({o.formats.size() > 1 ? "T/Q " + f : "T/Q", {t, q}});
    }
  }
  if (o.formats.size() > 1) {
    for (const char* e : {"tandem", "qemu"}) {
      if (std::string(e) == "qemu" && !o.qemu_peer) continue;
      ratios.push_back({fmt::format("{} q/r", e == std::string("tandem") ? "T" : "Q"),
                        {fmt::format("{}/qcow2", e), fmt::format("{}/raw", e)}});
    }
  }
  for (const bool use_median : {false, true}) {
    std::string header = fmt::format("{:<22}", use_median ? "median of runs" : "best of runs");
    for (const Config& c : order) header += fmt::format(" {:>12}", c.name);
    for (const auto& [label, pair] : ratios) header += fmt::format(" {:>9}", label);
    std::printf("%s\n", header.c_str());
    for (const Phase& p : kPhases) {
      const bool iops = std::string(p.name).starts_with("rand");
      std::string label = p.label;
      if (std::string(p.name) == "rand-thr") label = fmt::format("rand 4K {} thr", o.threads);
      label += iops ? " (IOPS)" : " (MB/s)";
      std::string row = fmt::format("{:<22}", label);
      for (const Config& c : order) {
        row += fmt::format(" {:>12}", fmt_v(summary(c.name, p.name, use_median)));
      }
      for (const auto& [l, pair] : ratios) {
        row += fmt::format(" {:>9}", ratio(summary(pair.first, p.name, use_median),
                                           summary(pair.second, p.name, use_median)));
      }
      std::printf("%s\n", row.c_str());
    }
  }
  std::printf(
      "(T/Q > 1: tandem is faster; q/r > 1: qcow2 is faster than raw; %s)\n",
      failures ? fmt::format("{} run(s) FAILED", failures).c_str() : "every run ok, data verified");
  return failures ? 1 : 0;
} catch (const tandem::Error& e) {
  std::fprintf(stderr, "bench_blk_riscv: %s\n", e.what());
  return 1;
}
