// tandem img convert [-f fmt] [-O output_fmt] [-c] [-o options] [-p] [-q] [-S sparse_size] [-U]
//                    [-m num] [-W] [-t cache] [-T src_cache] filename output_filename
//
// Copies what the source holds, in large chunks: ranges the source's block status reports as
// zero (unallocated clusters, zero clusters, holes) are neither read nor written, and chunks
// that read as zeroes anyway are skipped in granules of -S bytes (a whole cluster for qcow2
// output), so the output stays sparse. -c compresses each cluster (qcow2 output only) on the
// reader threads (at least one per core), and the clusters are written in order. -m N (8, as
// qemu-img) is how many chunks are in flight, up to 4 threads: raw output has that many workers
// each reading, checking and writing its own chunks; qcow2 output (written in order on one thread)
// that many readers filling the next chunks. Data are read from the source's files directly where
// block status says where they are (raw files and uncompressed qcow2 clusters), so reads run in
// parallel too.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "base/error.h"
#include "base/unique_fd.h"
#include "block/block_options.h"
#include "block/image_lock.h"
#include "block/qcow2/compression.h"
#include "block/qcow2/qcow2_create.h"
#include "block/qcow2/qcow2_image.h"
#include "img/image_source.h"
#include "img/img.h"
#include "img/options.h"
#include "img/progress.h"

namespace tandem::img {

namespace {

enum {
  kFormat,
  kOutFormat,
  kCompress,
  kOptions,
  kProgress,
  kQuiet,
  kSparse,
  kForceShare,
  kCache,
  kSrcCache,
  kParallel,
  kOutOfOrder,
  kBacking,
  kHelp
};
constexpr OptionSpec kSpec[] = {
    {'f', nullptr, true, kFormat},    {'O', nullptr, true, kOutFormat},
    {'c', nullptr, false, kCompress}, {'o', nullptr, true, kOptions},
    {'p', nullptr, false, kProgress}, {'q', nullptr, false, kQuiet},
    {'S', nullptr, true, kSparse},    {'U', "force-share", false, kForceShare},
    {'t', nullptr, true, kCache},     {'T', nullptr, true, kSrcCache},
    {'m', nullptr, true, kParallel},  {'W', nullptr, false, kOutOfOrder},
    {'B', nullptr, true, kBacking},   {'h', "help", false, kHelp},
};

constexpr uint64_t kChunk = 2 << 20;
constexpr uint64_t kMaxSparse = 16 << 20;  // qemu-img's limit for -S

bool all_zero(const uint8_t* p, size_t n) {
  if (n < 16) {
    for (size_t i = 0; i < n; ++i) {
      if (p[i]) return false;
    }
    return true;
  }
  static const uint8_t kZero[16] = {};
  // The first 16 bytes are zero and every byte equals the one 16 before it.
  return std::memcmp(p, kZero, 16) == 0 && std::memcmp(p, p + 16, n - 16) == 0;
}

void write_all(int fd, const std::string& path, uint64_t offset, const uint8_t* data, size_t len) {
  while (len > 0) {
    ssize_t n = ::pwrite(fd, data, len, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_errno("error while writing '{}' at offset {}", path, offset);
    }
    data += n;
    len -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
}

// Where converted data go: a raw file or a qcow2 image.
class Target {
 public:
  Target(std::string path, std::unique_ptr<qcow2::Qcow2Image> qcow2, UniqueFd raw)
      : path_(std::move(path)), qcow2_(std::move(qcow2)), raw_(std::move(raw)) {}

  qcow2::Qcow2Image* qcow2() const { return qcow2_.get(); }

  void write(uint64_t offset, const uint8_t* data, size_t len) {
    if (!qcow2_) return write_all(raw_.get(), path_, offset, data, len);
    iovec v{const_cast<uint8_t*>(data), len};
    if (int r = qcow2_->write(offset, {&v, 1}); r < 0) {
      fail("error while writing '{}' at offset {}: {}", path_, offset, std::strerror(-r));
    }
  }
  // `compressed` empty: the cluster did not compress and is stored as `plain`.
  void write_compressed(uint64_t offset, std::span<const uint8_t> compressed,
                        std::span<const uint8_t> plain) {
    if (compressed.empty()) return write(offset, plain.data(), plain.size());
    if (int r = qcow2_->write_compressed_data(offset, compressed); r < 0) {
      fail("error while writing '{}' at offset {}: {}", path_, offset, std::strerror(-r));
    }
  }
  void finish() {
    if (qcow2_) {
      if (int r = qcow2_->flush(); r < 0) {
        fail("could not write back the metadata of '{}': {}", path_, std::strerror(-r));
      }
    }
  }

 private:
  std::string path_;
  std::unique_ptr<qcow2::Qcow2Image> qcow2_;
  UniqueFd raw_;
};

qcow2::CreateOptions qcow2_options(const std::vector<std::pair<std::string, std::string>>& opts,
                                   const std::string& path) {
  qcow2::CreateOptions q;
  for (const auto& [name, value] : opts) {
    if (name == "cluster_size") {
      q.cluster_size = parse_size(value);
    } else if (name == "compat") {
      if (value == "0.10" || value == "v2") {
        q.version = 2;
      } else if (value == "1.1" || value == "v3") {
        q.version = 3;
      } else {
        fail("{}: Invalid compatibility level: '{}'", path, value);
      }
    } else if (name == "compression_type") {
      if (value == "zlib") {
        q.compression_type = qcow2::kCompressionZlib;
      } else if (value == "zstd") {
        q.compression_type = qcow2::kCompressionZstd;
      } else {
        fail("{}: Parameter 'compression-type' does not accept value '{}'", path, value);
      }
    } else if (name == "lazy_refcounts") {
      q.lazy_refcounts = parse_bool(name, value);
    } else if (name == "refcount_bits") {
      char* end = nullptr;
      unsigned long bits = std::strtoul(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || bits > 64) {
        fail("{}: Refcount width must be a power of two and may not exceed 64 bits", path);
      }
      q.refcount_bits = static_cast<uint32_t>(bits);
    } else if ((name == "preallocation" && value == "off") ||
               (name == "extended_l2" && !parse_bool(name, value))) {
      // the defaults
    } else if (name == "backing_file" || name == "backing_fmt") {
      fail("{}: convert writes whole images: '{}' is not supported (use create -b, or rebase)",
           path, name);
    } else if (name == "preallocation" || name == "extended_l2") {
      fail("{}: {}={} is not supported", path, name, value);
    } else {
      fail("{}: Invalid parameter '{}'", path, name);
    }
  }
  return q;
}

// Compressors for -c, one per reader thread at a time (each keeps its zlib/zstd state).
class CompressorPool {
 public:
  explicit CompressorPool(uint8_t type) : type_(type) {}
  std::unique_ptr<qcow2::ClusterCompressor> take() {
    std::lock_guard lock(mutex_);
    if (free_.empty()) return std::make_unique<qcow2::ClusterCompressor>(type_);
    auto c = std::move(free_.back());
    free_.pop_back();
    return c;
  }
  void give(std::unique_ptr<qcow2::ClusterCompressor> c) {
    std::lock_guard lock(mutex_);
    free_.push_back(std::move(c));
  }

 private:
  const uint8_t type_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<qcow2::ClusterCompressor>> free_;
};

constexpr unsigned kDefaultParallel = 8;  // qemu-img's default for -m
// Threads at most, whatever -m says: each holds a 2 MiB chunk, and with more of them the chunks
// leave the CPU caches between their read and their write (4 beat 8 by 10-30% on a 2-core host).
constexpr unsigned kMaxThreads = 4;

// A chunk's memory: 2 MiB-aligned and backed by huge pages where the kernel allows, which makes
// copying to and from the page cache cheaper (fewer TLB misses).
class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(size_t size) {
    constexpr size_t kHuge = 2 << 20;
    size_t rounded = (size + kHuge - 1) / kHuge * kHuge;
    data_.reset(static_cast<uint8_t*>(std::aligned_alloc(kHuge, rounded)));
    if (!data_) throw std::bad_alloc();
    ::madvise(data_.get(), rounded, MADV_HUGEPAGE);
  }
  uint8_t* data() { return data_.get(); }

 private:
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, Free> data_;
};

struct Chunk {
  uint64_t pos = 0;
  uint64_t len = 0;
  bool any_data = false;
  Buffer data;
  std::vector<std::pair<uint64_t, uint64_t>> runs;  // (offset in chunk, length) to write
  // -c: cluster i of the chunk compressed is packed[pieces[i].first, + pieces[i].second);
  // length 0: it did not compress and is stored plainly; offset kAllZero: not written at all.
  static constexpr uint64_t kAllZero = ~uint64_t{0};
  std::vector<uint8_t> packed;
  std::vector<std::pair<uint64_t, uint64_t>> pieces;
};

// Chunks filled by `readers` reader threads and handed to the writer in order, `depth` buffers
// in all. Each reader takes the next position with a free buffer, so the lowest position not yet
// handed over always has a buffer and a reader. An error in a reader (an Error thrown by `fill`)
// ends the stream and is rethrown by rethrow().
class ChunkPipeline {
 public:
  ChunkPipeline(uint64_t chunk_size, size_t depth, uint64_t size, unsigned readers)
      : chunks_(depth), chunk_size_(chunk_size), size_(size), readers_(readers) {
    for (Chunk& c : chunks_) {
      c.data = Buffer(chunk_size);
      free_.push_back(&c);
    }
  }
  ~ChunkPipeline() { stop(); }

  // Runs on each of the `readers` threads.
  template <typename Fill>
  void produce(std::stop_token stop, Fill fill) {
    try {
      while (!stop.stop_requested()) {
        Chunk* c;
        {
          std::unique_lock lock(mutex_);
          cv_.wait(lock, [&] { return !free_.empty() || stopped_ || next_pos_ >= size_; });
          if (stopped_ || next_pos_ >= size_) break;
          c = free_.front();
          free_.pop_front();
          c->pos = next_pos_;
          next_pos_ += chunk_size_;
        }
        c->len = std::min(chunk_size_, size_ - c->pos);
        fill(*c);
        std::lock_guard lock(mutex_);
        ready_[c->pos] = c;
        cv_.notify_all();
      }
    } catch (...) {
      std::lock_guard lock(mutex_);
      if (!error_) error_ = std::current_exception();
      stopped_ = true;
    }
    std::lock_guard lock(mutex_);
    ++finished_;
    cv_.notify_all();
  }

  // The next filled chunk in order, or null at the end (or after an error in a reader).
  Chunk* next() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return ready_.count(want_) || finished_ == readers_ || error_; });
    auto it = ready_.find(want_);
    if (it == ready_.end() || error_) return nullptr;
    Chunk* c = it->second;
    ready_.erase(it);
    want_ += chunk_size_;
    return c;
  }
  void release(Chunk* c) {
    std::lock_guard lock(mutex_);
    free_.push_back(c);
    cv_.notify_all();
  }
  // Stops the readers (the writer failed).
  void stop() {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    cv_.notify_all();
  }
  void rethrow() {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::vector<Chunk> chunks_;
  const uint64_t chunk_size_, size_;
  const unsigned readers_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Chunk*> free_;
  std::map<uint64_t, Chunk*> ready_;  // by position
  uint64_t next_pos_ = 0, want_ = 0;
  unsigned finished_ = 0;
  bool stopped_ = false;
  std::exception_ptr error_;
};

}  // namespace

int convert_command(const Args& args, const Io& io) {
  ParsedArgs parsed = parse_args("convert", args, kSpec);
  std::string src_format, out_format = "raw";
  std::vector<std::pair<std::string, std::string>> create_opts;
  bool compress = false, progress = false, quiet = false;
  uint64_t sparse = 4096;
  unsigned parallel = std::min(kDefaultParallel, kMaxThreads);
  for (const auto& [id, value] : parsed.options) {
    switch (id) {
      case kFormat:
        src_format = value;
        break;
      case kOutFormat:
        out_format = value;
        break;
      case kCompress:
        compress = true;
        break;
      case kOptions: {
        auto list = parse_option_list(value);
        create_opts.insert(create_opts.end(), list.begin(), list.end());
        break;
      }
      case kProgress:
        progress = true;
        break;
      case kQuiet:
        quiet = true;
        break;
      case kSparse: {
        sparse = parse_size(value);
        if (sparse % 512 != 0 || sparse > kMaxSparse) {
          fail(
              "convert: Invalid buffer size for sparse output specified. Valid sizes are "
              "multiples of 512 up to 16M.");
        }
        break;
      }
      case kCache:
      case kSrcCache:
        parse_cache_mode(value);  // accepted: the output is written as cache=unsafe does
        break;
      case kParallel: {
        char* end = nullptr;
        long n = std::strtol(value.c_str(), &end, 10);
        if (value.empty() || *end != '\0' || n < 1 || n > 16) {
          fail(
              "convert: Invalid number of coroutines. Allowed number of coroutines is between 1 "
              "and 16");
        }
        parallel = std::min(static_cast<unsigned>(n), kMaxThreads);
        break;
      }
      case kForceShare:
      case kOutOfOrder:
        break;
      case kBacking:
        fail("convert: -B (a backing file for the output) is not supported");
      case kHelp:
        std::fputs(
            "usage: tandem img convert [-f fmt] [-O output_fmt] [-c] [-o options] [-p] [-q] "
            "[-S sparse_size] [-U] filename output_filename\n",
            io.out);
        return 0;
    }
  }
  if (quiet) progress = false;
  if (parsed.positional.size() < 2) fail("convert: Must specify image file name");
  if (parsed.positional.size() > 2) {
    fail("convert: one source image at a time (got {} file names)", parsed.positional.size());
  }
  const std::string& src_path = parsed.positional[0];
  const std::string& dst_path = parsed.positional[1];
  if (out_format != "raw" && out_format != "qcow2") resolve_format("", out_format);
  if (compress && out_format != "qcow2") {
    fail("convert: Compression not supported for this file format ('{}')", out_format);
  }

  auto src = SourceImage::open(src_path, src_format);
  uint64_t size = src->size();
  struct stat dst_st;
  if (::stat(dst_path.c_str(), &dst_st) == 0) {
    for (const std::string& file : src->chain_files()) {
      struct stat st;
      if (::stat(file.c_str(), &st) == 0 && st.st_dev == dst_st.st_dev &&
          st.st_ino == dst_st.st_ino) {
        fail("convert: the output '{}' is {} ('{}')", dst_path,
             file == src->path() ? "the input image" : "in the input's backing chain", file);
      }
    }
  }

  std::unique_ptr<Target> target;
  if (out_format == "qcow2") {
    qcow2::CreateOptions q = qcow2_options(create_opts, dst_path);
    q.size = size;
    qcow2::validate_create_options(q);
    qcow2::create_image(dst_path, q);
    qcow2::Qcow2Image::Options o;
    o.cache = CacheMode::kUnsafe;  // qemu-img convert's default (-t unsafe)
    target = std::make_unique<Target>(dst_path, qcow2::Qcow2Image::open(dst_path, o), UniqueFd());
  } else {
    for (const auto& [name, value] : create_opts) {
      if (!(name == "preallocation" && value == "off")) {
        fail("{}: Invalid parameter '{}' for a raw image", dst_path, name);
      }
    }
    UniqueFd fd(::open(dst_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!fd) fail_errno("{}: could not create the image", dst_path);
    lock_image(fd.get(), dst_path, true);  // not while a VM uses it
    // Old contents go (only if there are any: ext4 flushes a file truncated to 0 when it is
    // closed, which a new file must not pay for).
    struct stat st;
    if (::fstat(fd.get(), &st) < 0 || (st.st_size != 0 && ::ftruncate(fd.get(), 0) < 0) ||
        ::ftruncate(fd.get(), static_cast<off_t>(size)) < 0) {
      fail_errno("{}: could not resize the image", dst_path);
    }
    target = std::make_unique<Target>(dst_path, nullptr, std::move(fd));
  }

  uint64_t cluster = target->qcow2() ? target->qcow2()->header().cluster_size() : 512;
  // Granularity of zero detection: -S, widened to the output's clusters (a cluster with any data
  // is allocated whole anyway).
  uint64_t granule = sparse == 0 ? 0 : std::max(sparse, target->qcow2() ? cluster : sparse);
  uint64_t chunk = std::max<uint64_t>(kChunk, granule);
  chunk = (chunk + cluster - 1) / cluster * cluster;
  if (compress) chunk = std::max<uint64_t>(chunk, 32 * cluster);

  // -c: the reader threads compress the chunks they fill, so compression runs in parallel and
  // overlaps the writes (as qemu-img's compressing thread pool does).
  std::optional<CompressorPool> compressors;
  if (compress) compressors.emplace(target->qcow2()->header().compression_type);
  auto compress_chunk = [&](Chunk& c) {
    uint8_t* buf = c.data.data();
    const size_t clusters = (c.len + cluster - 1) / cluster;
    if (c.len % cluster) std::memset(buf + c.len, 0, clusters * cluster - c.len);
    c.packed.clear();
    c.pieces.assign(clusters, {Chunk::kAllZero, 0});
    std::unique_ptr<qcow2::ClusterCompressor> compressor = compressors->take();
    thread_local std::vector<uint8_t> out;
    out.resize(cluster - 1);  // anything longer is stored plainly
    for (size_t i = 0; i < clusters; ++i) {
      const uint8_t* in = buf + i * cluster;
      if (all_zero(in, cluster)) continue;
      const ssize_t n = compressor->compress({in, cluster}, out);
      if (n < 0) fail("compression failed: {}", std::strerror(static_cast<int>(-n)));
      c.pieces[i] = {c.packed.size(), static_cast<uint64_t>(n)};
      c.packed.insert(c.packed.end(), out.begin(), out.begin() + n);
    }
    compressors->give(std::move(compressor));
  };
  Progress bar(io.out, progress, size);

  // Fills a chunk: block status, reads of what holds data, zero detection into `runs`. The source
  // is used under `source_mutex` (its driver and status cache are single-threaded). Data whose
  // block status gives the file and offset (raw files, uncompressed qcow2 clusters, in any layer
  // of the chain) are read from there directly, in parallel: what the driver would read itself,
  // past the end of the file reading as zeroes as there; compressed clusters go through it.
  std::mutex source_mutex;
  std::map<std::string, UniqueFd> files;
  for (const std::string& file : src->chain_files()) {
    UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) fail_errno("could not open '{}'", file);
    files.emplace(file, std::move(fd));
  }
  auto read_direct = [&](const BlockStatus& st, uint64_t guest, uint8_t* buf) {
    if (!st.data || !st.offset_valid) return false;
    auto it = files.find(st.file);
    if (it == files.end()) return false;
    for (uint64_t done = 0; done < st.length;) {
      ssize_t n = ::pread(it->second.get(), buf + done, st.length - done,
                          static_cast<off_t>(st.offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        fail_errno("could not read '{}' at offset {} (of '{}' at {})", src->path(), guest + done,
                   it->first, st.offset + done);
      }
      if (n == 0) {  // the end of the file
        std::memset(buf + done, 0, st.length - done);
        break;
      }
      done += static_cast<uint64_t>(n);
    }
    return true;
  };
  auto fill = [&](Chunk& c) {
    c.runs.clear();
    c.any_data = false;
    uint8_t* buf = c.data.data();
    std::vector<std::pair<uint64_t, BlockStatus>> extents;
    {
      std::lock_guard lock(source_mutex);
      for (uint64_t off = c.pos; off < c.pos + c.len;) {
        BlockStatus st = src->block_status(off, c.pos + c.len - off);
        c.any_data |= !st.zero;
        extents.emplace_back(off, st);
        off += st.length;
      }
    }
    if (!c.any_data) {
      if (sparse == 0) {  // -S 0: zeroes are written too
        std::memset(buf, 0, c.len);
        c.runs.emplace_back(0, c.len);
      }
      return;
    }
    // Granules inside a zero extent are left out of the runs without being zeroed and checked
    // (unless the whole chunk is written or compressed): only the rest of the extent is zeroed.
    const bool skip_zeros = !compress && granule != 0;
    std::vector<bool> known_zero(skip_zeros ? (c.len + granule - 1) / granule : 0);
    for (const auto& [off, st] : extents) {
      if (st.zero) {
        const uint64_t a = off - c.pos, b = a + st.length;
        uint64_t k = skip_zeros ? (a + granule - 1) / granule : 0;
        const uint64_t lo = skip_zeros ? std::min(k * granule, b) : b;
        uint64_t hi = lo;
        while (skip_zeros && k * granule < b && std::min((k + 1) * granule, c.len) <= b) {
          known_zero[k++] = true;
          hi = std::min(k * granule, c.len);
        }
        if (hi == lo) {
          std::memset(buf + a, 0, b - a);
        } else {
          std::memset(buf + a, 0, lo - a);
          std::memset(buf + hi, 0, b - hi);
        }
      } else if (!read_direct(st, off, buf + (off - c.pos))) {
        std::lock_guard lock(source_mutex);
        src->read(off, buf + (off - c.pos), st.length);
      }
    }
    if (compress) return compress_chunk(c);
    if (granule == 0) {
      c.runs.emplace_back(0, c.len);
      return;
    }
    // The runs of granules that hold data.
    uint64_t run_start = 0;
    bool in_run = false;
    for (uint64_t g = 0; g < c.len; g += granule) {
      bool zero = known_zero[g / granule] || all_zero(buf + g, std::min(granule, c.len - g));
      if (!zero && !in_run) {
        run_start = g;
        in_run = true;
      } else if (zero && in_run) {
        c.runs.emplace_back(run_start, g - run_start);
        in_run = false;
      }
    }
    if (in_run) c.runs.emplace_back(run_start, c.len - run_start);
  };

  if (!target->qcow2()) {
    // Raw output: workers each read, check and write whole chunks, in parallel (writes at
    // distinct offsets of a plain file need no ordering), as qemu-img keeps several requests in
    // flight.
    std::atomic<uint64_t> next{0};
    std::atomic<bool> failed{false};
    std::mutex progress_mutex;
    // One write at a time: the kernel serializes buffered writes to a file anyway (ext4 takes
    // the inode lock), and waiting here sleeps where the kernel would spin on its lock.
    std::mutex write_mutex;
    std::exception_ptr error;
    auto worker = [&]() {
      try {
        Chunk c;
        c.data = Buffer(chunk);
        while (!failed) {
          uint64_t pos = next.fetch_add(chunk);
          if (pos >= size) break;
          c.pos = pos;
          c.len = std::min(chunk, size - pos);
          fill(c);
          {
            std::lock_guard lock(write_mutex);
            for (const auto& [start, len] : c.runs) {
              target->write(pos + start, c.data.data() + start, len);
            }
          }
          std::lock_guard lock(progress_mutex);
          bar.advance(c.len);
        }
      } catch (...) {
        std::lock_guard lock(progress_mutex);
        if (!error) error = std::current_exception();
        failed = true;
      }
    };
    {
      std::vector<std::jthread> workers;
      for (unsigned i = 0; i < parallel; ++i) workers.emplace_back(worker);
    }
    if (error) std::rethrow_exception(error);
    target->finish();
    bar.finish();
    return 0;
  }

  // qcow2 output, written in order on this thread while reader threads fill the next chunks.
  // Compressing readers keep every core busy (the writer mostly waits for them).
  const unsigned readers =
      compress ? std::max(parallel, std::clamp(std::thread::hardware_concurrency(), 1u, 8u))
               : parallel;
  ChunkPipeline pipeline(chunk, readers + 3, size, readers);
  std::vector<std::jthread> reader_threads;
  for (unsigned i = 0; i < readers; ++i) {
    reader_threads.emplace_back([&](std::stop_token stop) { pipeline.produce(stop, fill); });
  }

  try {
    while (Chunk* c = pipeline.next()) {
      if (compress && c->any_data) {
        for (size_t i = 0; i < c->pieces.size(); ++i) {
          const auto [at, n] = c->pieces[i];
          if (at == Chunk::kAllZero) continue;
          const uint64_t off = c->pos + i * cluster;
          const uint8_t* plain = c->data.data() + i * cluster;
          target->write_compressed(off, {c->packed.data() + at, n},
                                   {plain, std::min(cluster, size - off)});
        }
      } else {
        for (const auto& [start, len] : c->runs) {
          target->write(c->pos + start, c->data.data() + start, len);
        }
      }
      bar.advance(c->len);
      pipeline.release(c);
    }
  } catch (...) {
    pipeline.stop();  // readers may be waiting for a free chunk
    throw;
  }
  reader_threads.clear();  // joins
  pipeline.rethrow();
  target->finish();
  bar.finish();
  return 0;
}

}  // namespace tandem::img
