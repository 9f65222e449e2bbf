// bench_img: `tandem img convert` against `qemu-img convert`, same arguments, on a multi-GiB
// image this program makes, in one run. The source is a raw image of --size-gib GiB (3) laid out
// in 1 MiB regions by a fixed pseudo-random sequence:
//   50% data    bytes of the host's own binaries (/usr/bin, /usr/lib: compressible as real disks
//               are), half of them with a zeroed stretch of up to 256 KiB inside (clusters
//               partly or wholly zero, found only by reading)
//   10% zeros   written zeroes (allocated in the raw file)
//   40% holes   never written
// and the same image as qcow2 (made by qemu-img convert, then `qemu-io write -z` turns the
// written-zero regions into zero clusters): data, zero and unallocated clusters. Conversions:
//   raw->qcow2     convert -f raw -O qcow2 src.raw out
//   qcow2->raw     convert -f qcow2 -O raw src.qcow2 out
//   qcow2->qcow2   convert -f qcow2 -O qcow2 src.qcow2 out
//   qcow2->qcow2 -c  convert -c -f qcow2 -O qcow2 src.qcow2 out  (zlib; only with --compress:
//                    at some 10-20 MB/s per core it takes minutes per run on a 2-core host)
// Each conversion runs --runs times (3) with each tool, the tools alternating (which goes first
// alternates too), each run with the output removed and the file system synced first; the
// source stays in the page cache (24 GiB hosts: it fits), and neither tool syncs its output
// (qemu-img's default -t unsafe), so the figures are the tools' CPU and system-call costs, not the
// disk's. The best time counts; T/Q is tandem's time over qemu-img's (below 1: tandem is
// faster). Every tandem output is checked with `qemu-img compare` against the source, and both
// outputs' allocated sizes are printed. Needs qemu-utils (qemu-img, qemu-io). Run by hand:
//
//   build/bench/img/bench_img [--size-gib N] [--runs N] [--dir DIR] [--compress]
//       [--tandem PATH] [--qemu-img PATH] [--keep] [-v]
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/unique_fd.h"
#include "bench/common/guest_process.h"

namespace {

namespace fs = std::filesystem;
constexpr uint64_t kMiB = 1 << 20;

struct Options {
  long size_gib = 3;
  int runs = 3;
  std::string dir = "/var/tmp";
  bool compress = false;
  std::string tandem = TANDEM_BIN;
  std::string qemu_img = "/usr/bin/qemu-img";
  bool keep = false;
  bool verbose = false;
};

enum class Region { kData, kZeros, kHole };

// xorshift64*: the same layout every run and on every host.
struct Random {
  uint64_t s = 0x9E3779B97F4A7C15ull;
  uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 2685821657736338717ull;
  }
};

// About 64 MiB of the host's binaries: what data on a real disk looks like to a compressor.
std::vector<uint8_t> corpus() {
  std::vector<uint8_t> out;
  for (const char* dir : {"/usr/bin", "/usr/lib/x86_64-linux-gnu"}) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      if (out.size() >= 64 * kMiB) break;
      std::error_code ec2;
      if (!e.is_regular_file(ec2) || e.is_symlink(ec2) || e.file_size(ec2) < 64 * 1024) continue;
      tandem::UniqueFd fd(open(e.path().c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd) continue;
      const size_t at = out.size();
      out.resize(at + std::min<uint64_t>(e.file_size(), 8 * kMiB));
      const ssize_t n = pread(fd.get(), out.data() + at, out.size() - at, 0);
      out.resize(at + static_cast<size_t>(std::max<ssize_t>(n, 0)));
    }
  }
  if (out.size() < 2 * kMiB) tandem::fail("found too few binaries to make data from");
  return out;
}

void pwrite_all(int fd, const uint8_t* p, size_t n, uint64_t off, const std::string& path) {
  while (n > 0) {
    const ssize_t w = pwrite(fd, p, n, static_cast<off_t>(off));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) tandem::fail_errno("cannot write {}", path);
    p += w;
    n -= static_cast<size_t>(w);
    off += static_cast<uint64_t>(w);
  }
}

// Writes the raw source; the regions it laid out.
std::vector<Region> make_raw(const fs::path& path, uint64_t bytes) {
  const std::vector<uint8_t> data = corpus();
  fs::remove(path);
  tandem::UniqueFd fd(open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644));
  if (!fd || ftruncate(fd.get(), static_cast<off_t>(bytes)) != 0) {
    tandem::fail_errno("cannot create {}", path.string());
  }
  Random random;
  std::vector<Region> regions(bytes / kMiB);
  std::vector<uint8_t> buf(kMiB);
  for (size_t r = 0; r < regions.size(); ++r) {
    const uint64_t u = random.next() % 100;
    regions[r] = u < 50 ? Region::kData : u < 60 ? Region::kZeros : Region::kHole;
    if (regions[r] == Region::kHole) continue;
    if (regions[r] == Region::kData) {
      const uint64_t from = random.next() % ((data.size() - kMiB) / 4096) * 4096;
      std::memcpy(buf.data(), data.data() + from, kMiB);
      if (random.next() % 2) {
        const uint64_t len = (random.next() % 64 + 1) * 4096;
        const uint64_t at = random.next() % ((kMiB - len) / 4096 + 1) * 4096;
        std::memset(buf.data() + at, 0, len);
      }
    } else {
      std::fill(buf.begin(), buf.end(), 0);
    }
    pwrite_all(fd.get(), buf.data(), kMiB, r * kMiB, path);
  }
  return regions;
}

tandem::bench::GuestProcess run(const std::vector<std::string>& argv, bool verbose) {
  if (verbose) {
    std::string line;
    for (const auto& a : argv) line += (line.empty() ? "" : " ") + a;
    std::printf("    $ %s\n", line.c_str());
  }
  return tandem::bench::run_guest_process(argv, 3600);
}

void must(const std::vector<std::string>& argv, const char* what) {
  tandem::bench::GuestProcess p = run(argv, false);
  if (p.status != 0) tandem::fail("{} failed ({}): {}", what, p.status, p.output);
}

struct Case {
  const char* name;
  std::string src_format, out_format;
  bool compress;
};

uint64_t allocated(const fs::path& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_blocks) * 512 : 0;
}

int usage(const char* why) {
  std::fprintf(stderr,
               "bench_img: %s\nusage: bench_img [--size-gib N] [--runs N] [--dir DIR] "
               "[--compress] [--tandem PATH] [--qemu-img PATH] [--keep] [-v]\n",
               why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) try {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "-v") {
      o.verbose = true;
    } else if (k == "--compress") {
      o.compress = true;
    } else if (k == "--keep") {
      o.keep = true;
    } else if (k == "-h" || k == "--help") {
      std::printf(
          "bench_img: tandem img convert vs qemu-img convert on a multi-GiB image\n"
          "  --size-gib N     virtual size of the source image (3)\n"
          "  --runs N         runs of each tool per conversion, alternating; the best counts (3)\n"
          "  --dir DIR        where the images go (/var/tmp)\n"
          "  --compress       add the qcow2 -c conversion (slow)\n"
          "  --tandem PATH    the tandem binary (%s)\n"
          "  --qemu-img PATH  qemu-img (/usr/bin/qemu-img; qemu-io next to it)\n"
          "  --keep           keep the images\n"
          "  -v               print every command\n",
          TANDEM_BIN);
      return 0;
    } else if (i + 1 < argc && (k == "--size-gib" || k == "--runs" || k == "--dir" ||
                                k == "--tandem" || k == "--qemu-img")) {
      const std::string v = argv[++i];
      if (k == "--dir") {
        o.dir = v;
      } else if (k == "--tandem") {
        o.tandem = v;
      } else if (k == "--qemu-img") {
        o.qemu_img = v;
      } else {
        char* end = nullptr;
        const long n = std::strtol(v.c_str(), &end, 10);
        if (*end || n <= 0 || n > 1000)
          return usage((k + " wants a number from 1 to 1000").c_str());
        if (k == "--runs") o.runs = static_cast<int>(n);
        if (k == "--size-gib") o.size_gib = n;
      }
    } else {
      return usage(("unknown option or missing value: " + k).c_str());
    }
  }
  const std::string qemu_io = (fs::path(o.qemu_img).parent_path() / "qemu-io").string();
  for (const std::string& bin : {o.tandem, o.qemu_img, qemu_io}) {
    if (access(bin.c_str(), X_OK) != 0) {
      tandem::fail("{} is not there (qemu-img, qemu-io: apt-get install qemu-utils)", bin);
    }
  }
  const fs::path work = fs::path(o.dir) / fmt::format("tandem-img-bench-{}", getpid());
  fs::create_directories(work);
  const fs::path src_raw = work / "src.raw", src_qcow2 = work / "src.qcow2";
  const uint64_t bytes = static_cast<uint64_t>(o.size_gib) << 30;

  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<Region> regions = make_raw(src_raw, bytes);
  must({o.qemu_img, "convert", "-f", "raw", "-O", "qcow2", src_raw.string(), src_qcow2.string()},
       "qemu-img convert (making the qcow2 source)");
  std::vector<std::string> zero_cmd = {qemu_io, "-f", "qcow2"};
  size_t counts[3] = {};
  for (size_t r = 0; r < regions.size(); ++r) {
    ++counts[static_cast<int>(regions[r])];
    if (regions[r] != Region::kZeros) continue;
    zero_cmd.push_back("-c");
    zero_cmd.push_back(fmt::format("write -q -z {} {}", r * kMiB, kMiB));
  }
  zero_cmd.push_back(src_qcow2.string());
  must(zero_cmd, "qemu-io write -z (zero clusters in the qcow2 source)");
  must({o.qemu_img, "compare", "-q", "-f", "raw", "-F", "qcow2", src_raw.string(),
        src_qcow2.string()},
       "qemu-img compare of the two sources");
  std::string load;
  {
    FILE* f = std::fopen("/proc/loadavg", "r");
    char line[128] = {};
    if (f && std::fgets(line, sizeof line, f)) load = line;
    if (f) std::fclose(f);
    if (!load.empty() && load.back() == '\n') load.pop_back();
  }
  std::printf(
      "bench_img: %ld GiB source: %zu MiB data, %zu MiB written zeros (qcow2: zero clusters), "
      "%zu MiB holes; raw %.0f MiB, qcow2 %.0f MiB allocated; made in %.1f s; best of %d; "
      "load %s\n",
      o.size_gib, counts[0], counts[1], counts[2], allocated(src_raw) / double(kMiB),
      allocated(src_qcow2) / double(kMiB),
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), o.runs,
      load.c_str());
  std::printf("  tandem: %s img convert ...\n  qemu:   %s convert ...\n", o.tandem.c_str(),
              o.qemu_img.c_str());
  std::fflush(stdout);

  std::vector<Case> cases = {{"raw->qcow2", "raw", "qcow2", false},
                             {"qcow2->raw", "qcow2", "raw", false},
                             {"qcow2->qcow2", "qcow2", "qcow2", false}};
  if (o.compress) cases.push_back({"qcow2->qcow2 -c", "qcow2", "qcow2", true});

  struct Result {
    double best[2] = {NAN, NAN};
    uint64_t size[2] = {0, 0};
    bool compared = false;
  };
  std::map<std::string, Result> results;
  int failures = 0;
  const char* tools[] = {"tandem", "qemu"};
  for (int r = 0; r < o.runs; ++r) {
    for (const Case& c : cases) {
      Result& res = results[c.name];
      for (int n = 0; n < 2; ++n) {
        const int t = (n + r) % 2;  // who goes first alternates
        const fs::path out = work / ("out." + c.out_format);
        fs::remove(out);
        sync();
        std::vector<std::string> argv = {o.qemu_img};
        if (t == 0) argv = {o.tandem, "img"};
        argv.push_back("convert");
        if (c.compress) argv.push_back("-c");
        for (const std::string& a :
             {std::string("-f"), c.src_format, std::string("-O"), c.out_format,
              (c.src_format == "raw" ? src_raw : src_qcow2).string(), out.string()}) {
          argv.push_back(a);
        }
        tandem::bench::GuestProcess p = run(argv, o.verbose);
        std::printf(
            "  run %d %-16s %-7s %7.2f s%s\n", r + 1, c.name, tools[t], p.seconds,
            p.status == 0 ? "" : fmt::format("  FAILED ({}): {}", p.status, p.output).c_str());
        std::fflush(stdout);
        if (p.status != 0) {
          ++failures;
          continue;
        }
        if (std::isnan(res.best[t]) || p.seconds < res.best[t]) res.best[t] = p.seconds;
        res.size[t] = allocated(out);
        if (t == 0 && !res.compared) {
          tandem::bench::GuestProcess cmp =
              run({o.qemu_img, "compare", "-f", c.src_format, "-F", c.out_format,
                   (c.src_format == "raw" ? src_raw : src_qcow2).string(), out.string()},
                  o.verbose);
          res.compared = true;
          if (cmp.status != 0) {
            ++failures;
            std::printf("  %s: tandem's output DIFFERS from the source: %s\n", c.name,
                        cmp.output.c_str());
          }
        }
      }
    }
  }
  if (!o.keep) fs::remove_all(work);

  std::printf("\n%-18s %10s %10s %7s %14s %14s\n", "", "tandem s", "qemu-img s", "T/Q",
              "tandem MiB", "qemu-img MiB");
  for (const Case& c : cases) {
    const Result& res = results[c.name];
    const double t = res.best[0], q = res.best[1];
    std::printf("%-18s %10.2f %10.2f %7s %14.0f %14.0f\n", c.name, t, q,
                std::isnan(t) || std::isnan(q) ? "-" : fmt::format("{:.2f}", t / q).c_str(),
                res.size[0] / double(kMiB), res.size[1] / double(kMiB));
  }
  std::printf(
      "(T/Q: tandem's best time over qemu-img's, below 1 = tandem faster; MiB: the "
      "output's allocated size; %s)\n",
      failures ? fmt::format("{} FAILURE(S)", failures).c_str()
               : "every tandem output identical to its source");
  return failures ? 1 : 0;
} catch (const tandem::Error& e) {
  std::fprintf(stderr, "bench_img: %s\n", e.what());
  return 1;
}
