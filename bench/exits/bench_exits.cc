// bench_exits: PIO, MMIO and ioeventfd round trips from the CPL3 exits guest, timed by the guest
// with rdtsc, under a bare /dev/kvm loop (bare_kvm.cc) and under Tandem, alternating, in one run.
// Prints ns per exit for both and Tandem's overhead ratio. Run by hand; nothing is asserted.
//
//   bench_exits [--iters N] [--rounds R] [--tandem PATH] [--guest exits.elf]
//   bench_exits --check   runs the exits guest's functional checks under the bare loop only
#include <x86intrin.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <sstream>
#include <string>

#include "bare_kvm.h"
#include "base/error.h"
#include "bench/common/host_clock.h"
#include "tests/integration/run_command.h"

namespace {

using tandem::bench::host_tsc_khz;
using tandem::bench::now_ns;

// "bench pio_write iters=N cycles_per_exit=C ns_per_exit=X" -> {pio_write: X}
std::map<std::string, double> parse(const std::string& console) {
  std::map<std::string, double> r;
  std::istringstream in(console);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("bench ", 0) != 0) continue;
    auto pos = line.find("ns_per_exit=");
    if (pos == std::string::npos) continue;
    std::string name = line.substr(6, line.find(' ', 6) - 6);
    r[name] = std::atof(line.c_str() + pos + 12);
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::string tandem = TANDEM_BIN, guest = std::string(TANDEM_X86_GUEST_DIR) + "/exits.elf";
  uint64_t iters = 100000;
  int rounds = 5;
  if (argc == 2 && std::string(argv[1]) == "--check") {
    auto r = tandem::bench::run_bare_kvm(guest, "", 64ull << 20);
    std::printf("%s\nstatus %d %s\n", r.console.c_str(), r.exit_status, r.error.c_str());
    return r.exit_status == 33 ? 0 : 1;
  }
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--iters")
      iters = std::strtoull(argv[i + 1], nullptr, 0);
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
  std::string cmdline = "bench iters=" + std::to_string(iters) + " tsc_khz=" + std::to_string(khz);
  std::printf(
      "host TSC %lu kHz, %lu iterations per kind, best of %d alternating rounds, guest %s\n", khz,
      iters, rounds, guest.c_str());

  // Bare loop and Tandem alternate, round after round, so that the machine's load falls on
  // both alike; each row keeps every runner's best round (an exit on kvm-pvm costs ~20 us and
  // one round moves by 10-20% with the load, far more than Tandem's dispatch costs).
  std::map<std::string, double> bare, tan;
  auto keep_best = [](std::map<std::string, double>& best, const std::map<std::string, double>& r) {
    for (const auto& [k, v] : r) {
      if (v > 0 && (!best.count(k) || v < best[k])) best[k] = v;
    }
  };
  for (int round = 0; round < rounds; ++round) {
    try {
      auto r = tandem::bench::run_bare_kvm(guest, cmdline, 64ull << 20);
      if (r.exit_status != 33) {
        std::fprintf(stderr, "bare KVM run failed (status %d%s%s):\n%s\n", r.exit_status,
                     r.error.empty() ? "" : ", ", r.error.c_str(), r.console.c_str());
      }
      keep_best(bare, parse(r.console));
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
    keep_best(tan, parse(r.out));
  }

  std::printf("%-12s %14s %14s %10s\n", "exit", "bare KVM ns", "Tandem ns", "Tandem/bare");
  for (const char* k : {"pio_write", "pio_read", "mmio_write", "mmio_read", "ioeventfd"}) {
    double b = bare.count(k) ? bare[k] : 0, t = tan.count(k) ? tan[k] : 0;
    if (b > 0 && t > 0)
      std::printf("%-12s %14.1f %14.1f %10.2f\n", k, b, t, t / b);
    else
      std::printf("%-12s %14s %14s %10s\n", k, b > 0 ? std::to_string(b).c_str() : "n/a",
                  t > 0 ? std::to_string(t).c_str() : "n/a", "n/a");
  }
  return 0;
}
