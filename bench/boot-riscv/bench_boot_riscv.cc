// bench_boot_riscv: boots the same Debian riscv64 kernel, initramfs and command line under
// `tandem run` and under `qemu-system-riscv64 -M virt -bios <the same OpenSBI fw_jump.bin>
// -nographic`, in one run, and prints for each, from the moment the process starts:
//   first output   the first byte on the console (OpenSBI's banner)
//   /init          the default initramfs's /init printing "tandem-init: started"
//   exit           the process ending after the guest powered off
// and CPU-bound phases inside the guest, timed between markers the guest prints:
//   cpu (C)        bench/boot-riscv/cpubench.c (riscv64, static), `--scale` M steps
//   cpu (sh)       a busybox-shell arithmetic loop of `--sh-loops` rounds
//   cpu (kernel)   `--urandom-mib` MiB read from /dev/urandom once the RNG is seeded: the guest
//                  kernel's ChaCha20 and its copy to user space (supervisor code, softmmu)
//   <kernel>       each of bench/tcg's kernels (crc32 ... nbody, riscv64 static, scale 1): the
//                  translator suite of `tandem user`, here inside the full-system guest, with
//                  the geometric mean of their Tandem/QEMU ratios (--no-suite leaves them out)
// Runs alternate between the two emulators; the best of `--runs` counts. The Tandem/QEMU
// ratio is below 1 where Tandem is faster. Both must print the same cpubench checksum.
// Needs scripts/fetch-riscv-guest.sh (the guest) and qemu-system-misc (the peer). Run by hand;
// nothing is asserted:
//
//   build/bench/boot-riscv/bench_boot_riscv [--runs N] [--cpus N] [--memory 512M] [--scale N]
//       [--sh-loops N] [--urandom-mib N] [--no-suite] [--tandem PATH] [--qemu PATH] [--guest DIR]
//       [--timeout SECONDS] [-v]
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
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/file_util.h"
#include "bench/common/guest_process.h"
#include "bench/common/median.h"
#include "machine/riscv/default_guest.h"
#include "machine/riscv/initramfs/initramfs_builder.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kInitMarker = "tandem-init: started";
constexpr const char* kCStart = "BENCH cpu-c start";
constexpr const char* kCEnd = "BENCH cpu-c end";
constexpr const char* kShStart = "BENCH cpu-sh start";
constexpr const char* kShEnd = "BENCH cpu-sh end";
constexpr const char* kKernelStart = "BENCH cpu-kernel start";
constexpr const char* kKernelEnd = "BENCH cpu-kernel end";
// bench/tcg's kernels, run in the guest between "BENCH k NAME start" and "BENCH k NAME end".
constexpr const char* kSuite[] = {"crc32", "sieve", "qsort", "fib", "interp", "matmul", "nbody"};

struct Options {
  int runs = 1;
  unsigned cpus = 1;
  std::string memory = "512M";
  long scale = 20;
  long sh_loops = 20000;
  long urandom_mib = 4;
  std::string tandem = TANDEM_BIN;
  std::string qemu = "/usr/bin/qemu-system-riscv64";
  std::string guest;
  int timeout = 900;
  bool verbose = false;
  bool suite = true;
};

// Seconds from the start of the process to each event; NaN when it did not happen.
struct Run {
  double first_output = NAN, init = NAN, c_start = NAN, c_end = NAN, sh_start = NAN, sh_end = NAN,
         kernel_start = NAN, kernel_end = NAN, exit = NAN;
  int status = -1;  // exit status; -1 when killed or signalled
  bool timed_out = false;
  std::string checksum;                                // cpubench's line
  std::map<std::string, std::string> suite_checksums;  // kernel -> its checksum line
  std::map<std::string, double> suite_start, suite_end;
  std::string output;

  bool ok() const {
    return status == 0 && !std::isnan(kernel_end) && !checksum.empty() &&
           suite_end.size() == suite_start.size();
  }
  double cpu_c() const { return c_end - c_start; }
  double cpu_sh() const { return sh_end - sh_start; }
  double cpu_kernel() const { return kernel_end - kernel_start; }
  double kernel(const std::string& k) const {
    auto s = suite_start.find(k), e = suite_end.find(k);
    return s == suite_start.end() || e == suite_end.end() ? NAN : e->second - s->second;
  }
};

// Runs argv (bench/common/guest_process.h) and timestamps the markers as their lines arrive.
Run run_guest(const std::vector<std::string>& argv, int timeout_s) {
  Run run;
  const std::pair<const char*, double Run::*> markers[] = {
      {kInitMarker, &Run::init},      {kCStart, &Run::c_start}, {kCEnd, &Run::c_end},
      {kShStart, &Run::sh_start},     {kShEnd, &Run::sh_end},   {kKernelStart, &Run::kernel_start},
      {kKernelEnd, &Run::kernel_end},
  };
  size_t scanned = 0;  // output up to here is in complete, already scanned lines
  auto on_output = [&](const std::string& output, double now) {
    if (std::isnan(run.first_output)) run.first_output = now;
    for (size_t nl; (nl = output.find('\n', scanned)) != std::string::npos; scanned = nl + 1) {
      const std::string_view line(output.data() + scanned, nl - scanned);
      for (const auto& [text, field] : markers) {
        if (line.find(text) != std::string_view::npos && std::isnan(run.*field)) run.*field = now;
      }
      auto rest_of_line = [&](size_t at) {
        std::string text(line.substr(at));
        while (!text.empty() && text.back() == '\r') text.pop_back();
        return text;
      };
      if (auto at = line.find("cpubench: "); at != std::string_view::npos) {
        run.checksum = rest_of_line(at);
      }
      for (const char* k : kSuite) {
        const std::string name = k;
        if (line.find("BENCH k " + name + " start") != std::string_view::npos) {
          run.suite_start.emplace(name, now);
        } else if (line.find("BENCH k " + name + " end") != std::string_view::npos) {
          run.suite_end.emplace(name, now);
        } else if (auto at = line.find(name + " checksum "); at != std::string_view::npos) {
          run.suite_checksums[name] = rest_of_line(at);
        }
      }
    }
  };
  tandem::bench::GuestProcess p = tandem::bench::run_guest_process(argv, timeout_s, on_output);
  run.output = std::move(p.output);
  run.status = p.status;
  run.timed_out = p.timed_out;
  run.exit = p.seconds;
  return run;
}

std::string fmt_s(double v) {
  return std::isnan(v) ? std::string("-") : fmt::format("{:.3f}", v);
}

int usage(const char* why) {
  std::fprintf(stderr,
               "bench_boot_riscv: %s\nusage: bench_boot_riscv [--runs N] [--cpus N] [--memory "
               "SIZE] [--scale N] [--sh-loops N] [--no-suite] [--tandem PATH] [--qemu PATH] "
               "[--guest DIR] [--timeout SECONDS] [-v]\n",
               why);
  return 2;
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
    if (k == "--no-suite") {
      o.suite = false;
      continue;
    }
    if (k == "-h" || k == "--help") {
      std::printf(
          "bench_boot_riscv: Debian riscv64 boot and in-guest CPU work, tandem run vs "
          "qemu-system-riscv64\n"
          "  --runs N        runs of each, alternating; the best counts (1)\n"
          "  --cpus N        harts (1)\n"
          "  --memory SIZE   guest RAM (512M)\n"
          "  --scale N       cpubench work, in M steps (20)\n"
          "  --sh-loops N    rounds of the shell loop (20000)\n"
          "  --urandom-mib N MiB the kernel phase reads from /dev/urandom (4)\n"
          "  --no-suite      leave out bench/tcg's kernels\n"
          "  --tandem PATH   the tandem binary (%s)\n"
          "  --qemu PATH     qemu-system-riscv64 (/usr/bin/qemu-system-riscv64)\n"
          "  --guest DIR     the fetched guest (${TANDEM_CACHE:-~/.cache/tandem}/riscv64)\n"
          "  --timeout S     per boot (900)\n"
          "  -v              print every console\n",
          TANDEM_BIN);
      return 0;
    }
    if (i + 1 >= argc) return usage(("option " + k + " needs a value").c_str());
    std::string v = argv[++i];
    if (k == "--runs") {
      o.runs = std::atoi(v.c_str());
    } else if (k == "--cpus") {
      o.cpus = static_cast<unsigned>(std::atoi(v.c_str()));
    } else if (k == "--memory") {
      o.memory = v;
    } else if (k == "--scale") {
      o.scale = std::atol(v.c_str());
    } else if (k == "--sh-loops") {
      o.sh_loops = std::atol(v.c_str());
    } else if (k == "--urandom-mib") {
      o.urandom_mib = std::atol(v.c_str());
    } else if (k == "--tandem") {
      o.tandem = v;
    } else if (k == "--qemu") {
      o.qemu = v;
    } else if (k == "--guest") {
      o.guest = v;
    } else if (k == "--timeout") {
      o.timeout = std::atoi(v.c_str());
    } else {
      return usage(("unknown option " + k).c_str());
    }
  }
  if (o.runs < 1 || o.cpus < 1 || o.scale < 1 || o.sh_loops < 1 || o.urandom_mib < 1 ||
      o.timeout < 1) {
    return usage("--runs, --cpus, --scale, --sh-loops and --timeout want positive numbers");
  }
  const fs::path guest = o.guest.empty() ? tandem::riscv::default_guest_dir() : o.guest;
  for (const char* part : {"fw_jump.bin", "Image", "busybox", "modules/modules.dep"}) {
    if (!fs::exists(guest / part)) {
      tandem::fail("{} is missing: run scripts/fetch-riscv-guest.sh", (guest / part).string());
    }
  }
  for (const std::string& bin : {o.tandem, o.qemu}) {
    if (access(bin.c_str(), X_OK) != 0) {
      tandem::fail("{} is not there (qemu-system-riscv64: apt-get install qemu-system-misc)", bin);
    }
  }

  // The initramfs: the default guest's, whose /init runs this script and then powers off.
  const fs::path work = fs::temp_directory_path() / fmt::format("tandem-boot-bench-{}", getpid());
  fs::create_directories(work);
  tandem::riscv::InitramfsOptions init;
  init.busybox = (guest / "busybox").string();
  init.modules_dir = (guest / "modules").string();
  init.autorun = fmt::format(
      "echo '{}'\n"
      "/usr/bin/cpubench {}\n"
      "echo '{}'\n"
      "echo '{}'\n"
      "i=0; s=0\n"
      "while [ $i -lt {} ]; do s=$(( (s * 31 + i) % 1000003 )); i=$((i + 1)); done\n"
      "echo '{}' $s\n"
      // /dev/random blocks until the kernel's RNG is seeded, which on an idle machine waits
      // on timer jitter (a clock-bound loop): outside the timed phase.
      "head -c 1 /dev/random > /dev/null\n"
      "echo '{}'\n"
      "dd if=/dev/urandom of=/dev/null bs=1M count={} 2>/dev/null\n"
      "echo '{}'\n",
      kCStart, o.scale, kCEnd, kShStart, o.sh_loops, kShEnd, kKernelStart, o.urandom_mib,
      kKernelEnd);
  init.extra_files.push_back({"usr/bin/cpubench", tandem::read_file(CPUBENCH_BIN), 0755});
  if (o.suite) {
    for (const char* k : kSuite) {
      init.autorun +=
          fmt::format("echo 'BENCH k {0} start'\n/usr/bin/{0}\necho 'BENCH k {0} end'\n", k);
      init.extra_files.push_back({fmt::format("usr/bin/{}", k),
                                  tandem::read_file(fmt::format("{}/{}.riscv64", SUITE_DIR, k)),
                                  0755});
    }
  }
  const std::vector<uint8_t> cpio = tandem::riscv::build_initramfs(init);
  const fs::path initrd = work / "initrd.cpio";
  {
    std::ofstream f(initrd, std::ios::binary);
    f.write(reinterpret_cast<const char*>(cpio.data()), static_cast<std::streamsize>(cpio.size()));
  }

  const std::string append = "console=ttyS0";
  const std::string cpus = std::to_string(o.cpus);
  const std::map<std::string, std::vector<std::string>> commands = {
      {"tandem",
       {o.tandem, "run", "-M", "virt", "-bios", (guest / "fw_jump.bin").string(), "-kernel",
        (guest / "Image").string(), "-initrd", initrd.string(), "-append", append, "-m", o.memory,
        "-smp", cpus, "-nographic"}},
      {"qemu",
       {o.qemu, "-M", "virt", "-bios", (guest / "fw_jump.bin").string(), "-kernel",
        (guest / "Image").string(), "-initrd", initrd.string(), "-append", append, "-m", o.memory,
        "-smp", cpus, "-nographic", "-no-reboot"}},
  };
  const char* order[] = {"tandem", "qemu"};

  std::string load;
  std::ifstream("/proc/loadavg") >> load;
  std::printf(
      "bench_boot_riscv: best of %d, %u hart(s), %s RAM, cpubench scale %ld, sh loop %ld, "
      "urandom %ld MiB, "
      "load %s\n",
      o.runs, o.cpus, o.memory.c_str(), o.scale, o.sh_loops, o.urandom_mib, load.c_str());
  std::printf("  guest:  %s (Image, fw_jump.bin, busybox)\n", guest.c_str());
  for (const char* name : order) {
    std::string line;
    for (const auto& a : commands.at(name)) line += (line.empty() ? "" : " ") + a;
    std::printf("  %-7s %s\n", name, line.c_str());
  }
  std::fflush(stdout);

  std::map<std::string, std::vector<Run>> runs;
  int failures = 0;
  for (int r = 0; r < o.runs; ++r) {
    for (const char* name : order) {
      Run run = run_guest(commands.at(name), o.timeout);
      if (o.verbose || !run.ok()) {
        std::printf("--- %s run %d: %s, output:\n%s\n---\n", name, r + 1,
                    run.timed_out ? "timed out" : fmt::format("exit status {}", run.status).c_str(),
                    run.output.c_str());
      }
      if (!run.ok()) ++failures;
      std::printf("  run %d %-7s first output %s  /init %s  cpu(C) %s  cpu(sh) %s  exit %s\n",
                  r + 1, name, fmt_s(run.first_output).c_str(), fmt_s(run.init).c_str(),
                  fmt_s(run.cpu_c()).c_str(), fmt_s(run.cpu_sh()).c_str(), fmt_s(run.exit).c_str());
      std::fflush(stdout);
      runs[name].push_back(std::move(run));
    }
  }
  if (!std::getenv("BENCH_KEEP")) fs::remove_all(work);

  auto best = [&](const std::string& name, double (*get)(const Run&)) {
    double b = NAN;
    for (const Run& run : runs[name]) {
      if (!run.ok()) continue;
      double v = get(run);
      if (!std::isnan(v) && (std::isnan(b) || v < b)) b = v;
    }
    return b;
  };
  const std::pair<const char*, double (*)(const Run&)> rows[] = {
      {"first output", [](const Run& r) { return r.first_output; }},
      {"/init", [](const Run& r) { return r.init; }},
      {"cpu (C)", [](const Run& r) { return r.cpu_c(); }},
      {"cpu (sh loop)", [](const Run& r) { return r.cpu_sh(); }},
      {"cpu (kernel)", [](const Run& r) { return r.cpu_kernel(); }},
      {"exit", [](const Run& r) { return r.exit; }},
  };
  // The host's load moves single boots by a second or more under both emulators: next to the
  // ratio of the bests, the median of the ratios of the runs made back to back (run i of each).
  auto paired_median = [&](double (*get)(const Run&)) {
    std::vector<double> ratios;
    const auto& t = runs["tandem"];
    const auto& q = runs["qemu"];
    for (size_t i = 0; i < std::min(t.size(), q.size()); ++i) {
      if (!t[i].ok() || !q[i].ok()) continue;
      const double a = get(t[i]), b = get(q[i]);
      if (!std::isnan(a) && !std::isnan(b) && b > 0) ratios.push_back(a / b);
    }
    if (ratios.empty()) return std::string("-");
    return fmt::format("{:.2f}", tandem::bench::median(ratios));
  };
  std::printf("%-16s %10s %10s %9s %12s\n", "seconds", "tandem", "qemu", "T/Q", "median T/Q");
  for (const auto& [label, get] : rows) {
    const double t = best("tandem", get), q = best("qemu", get);
    std::printf(
        "%-16s %10s %10s %9s %12s\n", label, fmt_s(t).c_str(), fmt_s(q).c_str(),
        std::isnan(t) || std::isnan(q) || q <= 0 ? "-" : fmt::format("{:.2f}", t / q).c_str(),
        paired_median(get).c_str());
  }
  if (o.suite) {
    double log_sum = 0;
    int n = 0;
    for (const char* k : kSuite) {
      const std::string name = k;
      double t = NAN, q = NAN;
      for (const Run& run : runs["tandem"]) {
        if (run.ok() && (std::isnan(t) || run.kernel(name) < t)) t = run.kernel(name);
      }
      for (const Run& run : runs["qemu"]) {
        if (run.ok() && (std::isnan(q) || run.kernel(name) < q)) q = run.kernel(name);
      }
      const bool both = !std::isnan(t) && !std::isnan(q) && q > 0 && t > 0;
      if (both) {
        log_sum += std::log(t / q);
        ++n;
      }
      std::printf("%-16s %10s %10s %9s\n", fmt::format("  {}", k).c_str(), fmt_s(t).c_str(),
                  fmt_s(q).c_str(), both ? fmt::format("{:.2f}", t / q).c_str() : "-");
    }
    if (n > 0)
      std::printf("%-16s %10s %10s %9.2f\n", "  suite geomean", "", "", std::exp(log_sum / n));
  }
  // The guest programs must compute the same under both.
  std::string reference;
  bool same = true;
  for (const auto& [name, list] : runs) {
    for (const Run& run : list) {
      if (run.checksum.empty()) continue;
      if (reference.empty()) reference = run.checksum;
      same = same && run.checksum == reference;
    }
  }
  std::map<std::string, std::string> suite_reference;
  for (const auto& [name, list] : runs) {
    for (const Run& run : list) {
      for (const auto& [k, line] : run.suite_checksums) {
        auto [it, fresh] = suite_reference.emplace(k, line);
        same = same && (fresh || it->second == line);
      }
    }
  }
  std::printf("(T/Q < 1: tandem is faster; %s; %s)\n",
              reference.empty() ? "no cpubench output"
              : same            ? ("checksums equal: " + reference).c_str()
                                : "CHECKSUMS DIFFER",
              failures ? fmt::format("{} run(s) FAILED", failures).c_str() : "every run ok");
  return failures || !same ? 1 : 0;
} catch (const tandem::Error& e) {
  std::fprintf(stderr, "bench_boot_riscv: %s\n", e.what());
  return 1;
}
