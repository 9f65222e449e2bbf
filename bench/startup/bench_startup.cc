// bench_startup: starts a minimal PVH guest (min_pvh.S: exits through isa-debug-exit at once)
// N times with Tandem and N times with QEMU (microvm, KVM) in one run; prints the mean wall time
// of each, the ratio, and Tandem's peak RSS (wait4's ru_maxrss; the guest touches only a few
// pages of its RAM, so this is the VMM's own footprint plus page tables and boot data).
// Run by hand; nothing is asserted.
//
//   bench_startup [--runs N] [--tandem PATH] [--qemu PATH] [--memory 128M]
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/integration/run_command.h"

namespace {

struct Stats {
  double total = 0;
  int ok = 0, failed = 0;
  long max_rss_kb = 0;
  std::string first_failure;
};

Stats run_n(const std::vector<std::string>& argv, int n) {
  Stats s;
  tandem::testing::CommandOptions o;
  o.timeout = std::chrono::seconds(60);
  for (int i = 0; i < n; i++) {
    auto r = tandem::testing::run_command(argv, o);
    if (r.exited && r.exit_code == 33) {
      s.ok++;
      s.total += r.seconds;
      if (r.usage.ru_maxrss > s.max_rss_kb) s.max_rss_kb = r.usage.ru_maxrss;
    } else {
      s.failed++;
      if (s.first_failure.empty()) s.first_failure = r.describe();
    }
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  std::string tandem = TANDEM_BIN, qemu = "/usr/bin/qemu-system-x86_64", kernel = MIN_PVH_ELF;
  std::string memory = "128M";
  int runs = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--runs")
      runs = std::atoi(argv[i + 1]);
    else if (k == "--tandem")
      tandem = argv[i + 1];
    else if (k == "--qemu")
      qemu = argv[i + 1];
    else if (k == "--memory")
      memory = argv[i + 1];
    else {
      std::fprintf(stderr, "bench_startup: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  std::printf("%d runs each, guest %s, %s of RAM\n", runs, kernel.c_str(), memory.c_str());
  Stats t = run_n({tandem, "run", "--accel", "kvm", "--kernel", kernel, "--memory", memory}, runs);
  Stats q = run_n({qemu, "-M", "microvm", "-accel", "kvm", "-cpu", "host,-arch-capabilities",
                   "-nodefaults", "-no-user-config", "-nographic", "-device",
                   "isa-debug-exit,iobase=0x501,iosize=2", "-m", memory, "-kernel", kernel},
                  runs);
  auto report = [](const char* name, const Stats& s) {
    if (s.ok)
      std::printf("%-8s mean %8.2f ms over %d runs, peak RSS %ld KiB%s\n", name,
                  1e3 * s.total / s.ok, s.ok, s.max_rss_kb, s.failed ? " (some runs failed)" : "");
    else
      std::printf("%-8s all %d runs failed\n", name, s.failed);
    if (s.failed) std::fprintf(stderr, "%s: first failure: %s\n", name, s.first_failure.c_str());
  };
  report("tandem", t);
  report("qemu", q);
  if (t.ok && q.ok)
    std::printf("tandem/qemu wall time ratio %.2f\n", (t.total / t.ok) / (q.total / q.ok));
  return 0;
}
