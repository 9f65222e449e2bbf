// bench_exits: PIO, MMIO and ioeventfd round trips from the CPL3 exits guest, timed by the guest
// with rdtsc, under a bare /dev/kvm loop (bare_kvm.cc) and under Tandem, alternating, in one run.
// Prints ns per exit for both and Tandem's overhead ratio. Run by hand; nothing is asserted.
//
//   bench_exits [--iters N (20000)] [--blocks B (20)] [--rounds R (10)] [--tandem PATH]
//               [--guest exits.elf]
//   bench_exits --check   runs the exits guest's functional checks under the bare loop only
#include <x86intrin.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "bare_kvm.h"
#include "base/error.h"
#include "bench/common/host_clock.h"
#include "bench/common/median.h"
#include "tests/integration/run_command.h"

namespace {

using tandem::bench::host_tsc_khz;
using tandem::bench::median;
using tandem::bench::now_ns;

// One guest run's figures per exit kind: its fastest block and its median block, in ns per exit.
struct Figures {
  double fastest = 0, median = 0;
};

// "bench pio_write iters=N blocks=B cycles_per_exit=C ns_per_exit=X median_ns=M ..."
//   -> {pio_write: {X, M}}
std::map<std::string, Figures> parse(const std::string& console) {
  std::map<std::string, Figures> r;
  std::istringstream in(console);
  std::string line;
  auto field = [&line](const char* key) {
    auto pos = line.find(key);
    return pos == std::string::npos ? 0.0 : std::atof(line.c_str() + pos + std::strlen(key));
  };
  while (std::getline(in, line)) {
    if (line.rfind("bench ", 0) != 0) continue;
    Figures f{field(" ns_per_exit="), field(" median_ns=")};
    if (f.fastest <= 0) continue;
    r[line.substr(6, line.find(' ', 6) - 6)] = f;
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::string tandem = TANDEM_BIN, guest = std::string(TANDEM_X86_GUEST_DIR) + "/exits.elf";
  uint64_t iters = 20000, blocks = 20;
  int rounds = 10;
  if (argc == 2 && std::string(argv[1]) == "--check") {
    auto r = tandem::bench::run_bare_kvm(guest, "", 64ull << 20);
    std::printf("%s\nstatus %d %s\n", r.console.c_str(), r.exit_status, r.error.c_str());
    return r.exit_status == 33 ? 0 : 1;
  }
  for (int i = 1; i < argc; i += 2) {
    std::string k = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "bench_exits: %s needs a value\n", argv[i]);
      return 2;
    }
    if (k == "--iters")
      iters = std::strtoull(argv[i + 1], nullptr, 0);
    else if (k == "--blocks")
      blocks = std::clamp<uint64_t>(std::strtoull(argv[i + 1], nullptr, 0), 1, 256);
    else if (k == "--rounds")
      rounds = std::max(1, std::atoi(argv[i + 1]));
    else if (k == "--tandem")
      tandem = argv[i + 1];
    else if (k == "--guest")
      guest = argv[i + 1];
    else {
      std::fprintf(stderr, "bench_exits: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  uint64_t khz = host_tsc_khz();
  std::string cmdline = "bench iters=" + std::to_string(iters) +
                        " blocks=" + std::to_string(blocks) + " tsc_khz=" + std::to_string(khz);
  std::printf(
      "host TSC %lu kHz, %lu exits per kind in %lu timed blocks, %d alternating rounds, guest %s\n",
      khz, iters, blocks, rounds, guest.c_str());

  // Bare loop and Tandem alternate, round after round, so that the machine's load falls on both
  // alike. Within a run the guest times short blocks and reports the fastest: an exit on kvm-pvm
  // costs ~20 us, and a block in which the host took the CPU away (steal time, 25-50% on this
  // machine at times) moves by far more than Tandem's dispatch costs. Each round then gives one
  // Tandem/bare ratio per kind; the median of those is the figure, the spread shows the noise.
  struct Row {
    std::vector<double> bare, tan, ratio, median_ratio;
  };
  std::map<std::string, Row> rows;
  for (int round = 0; round < rounds; ++round) {
    std::map<std::string, Figures> bare, tan;
    try {
      auto r = tandem::bench::run_bare_kvm(guest, cmdline, 64ull << 20);
      if (r.exit_status != 33) {
        std::fprintf(stderr, "bare KVM run failed (status %d%s%s):\n%s\n", r.exit_status,
                     r.error.empty() ? "" : ", ", r.error.c_str(), r.console.c_str());
      }
      bare = parse(r.console);
    } catch (const tandem::Error& e) {
      std::fprintf(stderr, "bare KVM run: %s\n", e.what());
    }

    tandem::testing::CommandOptions o;
    o.timeout = std::chrono::minutes(10);
    auto r = tandem::testing::run_command(
        {tandem, "run", "--accel", "kvm", "--kernel", guest, "--memory", "64M", "--append", cmdline,
         "-device", "tandem-testdev"},
        o);
    if (!r.exited || r.exit_code != 33)
      std::fprintf(stderr, "Tandem run failed: %s\n", r.describe().c_str());
    tan = parse(r.out);
    for (const auto& [k, b] : bare) {
      auto t = tan.find(k);
      if (t == tan.end()) continue;
      Row& row = rows[k];
      row.bare.push_back(b.fastest);
      row.tan.push_back(t->second.fastest);
      row.ratio.push_back(t->second.fastest / b.fastest);
      if (b.median > 0 && t->second.median > 0)
        row.median_ratio.push_back(t->second.median / b.median);
    }
  }

  std::printf("%-11s %11s %11s %12s %17s %15s\n", "exit", "bare ns", "Tandem ns", "Tandem/bare",
              "(rounds min-max)", "median blocks");
  for (const char* k : {"pio_write", "pio_read", "mmio_write", "mmio_read", "ioeventfd"}) {
    auto it = rows.find(k);
    if (it == rows.end()) {
      std::printf("%-11s %11s %11s %12s\n", k, "n/a", "n/a", "n/a");
      continue;
    }
    const Row& row = it->second;
    auto [lo, hi] = std::minmax_element(row.ratio.begin(), row.ratio.end());
    std::printf("%-11s %11.1f %11.1f %12.3f %8.3f-%-8.3f %15.3f\n", k, median(row.bare),
                median(row.tan), median(row.ratio), *lo, *hi, median(row.median_ratio));
  }
  return 0;
}
