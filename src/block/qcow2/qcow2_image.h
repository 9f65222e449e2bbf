// A qcow2 image, worked synchronously on the calling thread (Qcow2Driver serializes the calls).
//
// Reading maps each guest cluster through the L1 table (all in memory) and an L2 table (LRU
// cache) to a host cluster, a compressed cluster (zlib or zstd), a zero cluster, or nothing: then
// the backing image below answers, or zeroes. Every L1, L2 and refcount table entry is checked
// (alignment, inside the file, clear of the header, reserved bits) before it is used; a bad one
// makes the request fail with -EIO and is logged once, it is never followed.
//
// Writing never reuses freed space: new clusters come from the end of the file, freed ones are
// punched out. Metadata changes (L2 tables, refcount blocks, L1 and refcount table entries) stay
// in memory until flush() or cache pressure writes them back, in an order that keeps the file
// consistent after a crash at any point, with leaks at worst:
//   1. refcount blocks (only increments so far) and new data clusters, then a barrier;
//   2. the refcount table, or a grown copy of it and then the header pointing at it, each
//      followed by a barrier;
//   3. L2 tables, barrier; 4. L1 entries, barrier;
//   5. only now the decrements for clusters that the written tables no longer reference, and
//      their holes.
// A barrier is fdatasync (none with cache=unsafe, nor with O_DSYNC where every write is durable
// at once; with O_DSYNC, metadata is written back after every modifying request). Refcounts are
// always exact; the dirty bit is never set (no lazy refcounts).
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "block/block_options.h"
#include "block/qcow2/image_file.h"
#include "block/qcow2/qcow2_header.h"
#include "block/qcow2/qcow2_snapshot_table.h"
#include "block/qcow2/sync_image.h"
#include "block/qcow2/table_cache.h"

namespace tandem::qcow2 {

struct BackingChain;
class ClusterCompressor;

class Qcow2Image final : public SyncImage {
 public:
  struct Options {
    bool read_only = false;
    CacheMode cache = CacheMode::kWriteback;
    size_t l2_cache_bytes = 4 << 20;
    size_t refcount_cache_bytes = 1 << 20;
    WriteObserver* observer = nullptr;  // tests: sees every write to the image file
    // False: the backing file is not opened, unallocated clusters read as zeroes. Only for tools
    // that read allocated clusters and change metadata (commit opens each layer alone).
    bool open_backing = true;
  };

  // Opens and locks the image and its backing chain (read-only, each raw or qcow2, loops
  // refused). Throws Error with a one-line message naming the file and what is wrong.
  static std::unique_ptr<Qcow2Image> open(const std::string& path, const Options& options);
  // For the backing chain: `chain` holds the images above this one.
  static std::unique_ptr<Qcow2Image> open(const std::string& path, const Options& options,
                                          BackingChain& chain);

  Qcow2Image(const Qcow2Image&) = delete;
  Qcow2Image& operator=(const Qcow2Image&) = delete;
  // Writes back cached metadata (errors are logged).
  ~Qcow2Image() override;

  // SyncImage
  const std::string& path() const override { return file_.path(); }
  const char* format() const override { return "qcow2"; }
  uint64_t size() const override { return header_.size; }
  int read(uint64_t offset, std::span<const iovec> iov) override;

  // Ranges must lie inside [0, size()); results are 0 or -errno (-EROFS when read-only, -EIO for
  // a corrupt image).
  int write(uint64_t offset, std::span<const iovec> iov);
  // Makes the range read as zeroes: zero clusters (version 3) or deallocated clusters (version 2
  // without a backing file) where whole clusters are covered, written zeroes elsewhere.
  int write_zeroes(uint64_t offset, uint64_t length, bool may_unmap);
  // Frees the whole clusters inside the range: they read as zeroes after (version 2 images with a
  // backing file keep them: there, a freed cluster would show the backing file's data).
  int discard(uint64_t offset, uint64_t length);
  // Writes back the metadata and makes every completed write durable (only the write-back with
  // cache=unsafe).
  int flush();

  // How guest bytes from `offset` on are stored: the longest run (at most `max_length` bytes) of
  // clusters of one kind, data clusters contiguous in the file. Used by `tandem img map` and to
  // skip what need not be read. Returns 0 or -errno (-EIO for a corrupt image).
  struct Extent {
    enum Kind {
      kUnallocated,  // the backing file (or zeroes without one) shows through
      kZero,         // a zero cluster (host_offset != 0 when it keeps its allocation)
      kData,         // host_offset: where the first byte is in the image file
      kCompressed,   // compressed clusters (no host offset to give)
    };
    Kind kind = kUnallocated;
    uint64_t length = 0;
    uint64_t host_offset = 0;
  };
  int block_status(uint64_t offset, uint64_t max_length, Extent& out);

  // Writes one whole guest cluster compressed (with the image's compression type), as
  // `qemu-img convert -c` does: `cluster` is cluster_size() bytes (for the image's last,
  // partial cluster: padded with zeroes) and `offset` is cluster-aligned. Compressed data are
  // packed into shared host clusters; a cluster that does not compress is written plainly.
  int write_compressed(uint64_t offset, std::span<const uint8_t> cluster);
  // The same with data already compressed (ClusterCompressor for header().compression_type, at
  // most cluster_size() - 1 bytes), e.g. by several threads.
  int write_compressed_data(uint64_t offset, std::span<const uint8_t> compressed);

  // --- Internal snapshots and whole-image changes (qcow2_snapshot.cc, qcow2_resize.cc) ---
  // Each first writes the cached metadata back, orders its own updates so that a crash at any
  // point leaves an image QEMU accepts (leaked clusters at worst; the one exception, COPIED
  // flags lagging their refcounts for a moment, is explained in qcow2_snapshot.cc), and ends
  // flushed. Bad requests and I/O errors throw Error naming the image; after an I/O error the
  // image refuses further writes.

  // The snapshot table, read from the file.
  std::vector<SnapshotEntry> snapshots();
  // Adds a snapshot of the disk as it is now (no VM state); returns its ID (one above the
  // highest numeric ID, as QEMU numbers them). Names must be unique here.
  std::string create_snapshot(const std::string& name, uint32_t date_sec, uint32_t date_nsec);
  // Makes the disk what it was when snapshot `id` was taken (its virtual size too).
  void apply_snapshot(const std::string& id);
  void delete_snapshot(const std::string& id);
  // Changes the virtual size (a multiple of 512). Growing reads zeroes in the new area (the
  // backing file does not show through); shrinking drops the clusters past the new end.
  void resize(uint64_t new_size);
  // Drops every cluster of the active layer so that the backing file shows through, as qemu-img
  // commit leaves the image it committed.
  void make_empty();
  // Rewrites the backing file name and format in the header ("" name: no backing file). The
  // backing image opened with this image stays the old one.
  void set_backing_file(const std::string& name, const std::string& format);

  // --- The driver's asynchronous data path (qcow2_plain_map.cc, see qcow2_driver.h) ---
  // One piece of a request that maps to consecutive bytes of the image file.
  struct PlainExtent {
    uint64_t request_offset;  // where the piece starts in the request
    uint64_t host_offset;     // where it lies in the image file
    uint64_t length;
  };
  // Maps guest bytes [offset, offset + length of iov) to the image file when the request needs
  // nothing but a data transfer there: every cluster it touches holds plain data in this file
  // (not compressed, not a zero cluster, not unallocated, so neither backing file nor COW is
  // involved), lies wholly inside the file and, for a write, is owned by the active image alone
  // (COPIED), clear of metadata, on a writable image. With O_DIRECT each piece must also be
  // aligned as the host needs (no bounce buffer). Returns false otherwise, and on any error: then
  // read()/write() do the request (and report the error). Changes no metadata (it may load L2
  // tables into the cache).
  bool map_plain(bool write, uint64_t offset, std::span<const iovec> iov,
                 std::vector<PlainExtent>& out);
  // Data went to the file without this class (the driver's asynchronous path): the next barrier
  // must sync it.
  void note_data_written() { unsynced_ = true; }
  int fd() const { return file_.fd(); }
  // Tests: fdatasync calls made so far.
  uint64_t syncs() const { return syncs_; }

  bool read_only() const { return read_only_; }
  const Header& header() const { return header_; }
  SyncImage* backing() const { return backing_.get(); }
  uint32_t request_alignment() const { return file_.offset_align(); }

 private:
  Qcow2Image(ImageFile file, Header header, const Options& options);
  void load_tables();  // L1 and refcount tables, checked; throws Error
  void clear_autoclear_bits();

  uint64_t cluster_size() const { return uint64_t{1} << header_.cluster_bits; }
  uint64_t file_limit() const;
  int corrupt(const std::string& what);
  // Whole cluster at `offset` inside the file, aligned, clear of the header.
  bool valid_table_offset(uint64_t offset) const;

  // --- Mapping (qcow2_image.cc) ---
  int load_table(TableCache& cache, uint64_t offset, TablePtr& out);
  // The L2 entry of guest cluster `vcluster` (0 when its L2 table is unallocated), checked.
  int l2_entry(uint64_t vcluster, uint64_t& entry);
  int check_l2_entry(uint64_t entry);
  // Reads bytes [in_off, in_off+len) of guest cluster `vcluster`, whose L2 entry is `entry`.
  int read_cluster_part(uint64_t vcluster, uint64_t entry, uint64_t in_off, uint64_t len,
                        std::span<const iovec> iov);
  int read_backing(uint64_t offset, std::span<const iovec> iov);
  int read_compressed(uint64_t entry, uint8_t*& out);
  // True if the guest cluster reads as zeroes without looking at data.
  bool reads_as_zero(uint64_t entry) const;

  // --- Writing (qcow2_write.cc) ---
  int check_writable() const;
  int write_data(uint64_t offset, std::span<const iovec> iov);
  // The L2 table for l1_index, allocated or copied (when shared) so that it may be changed.
  int writable_l2(uint64_t l1_index, TablePtr& out);
  // Writes guest data into `count` new clusters from vcluster on (one L2 table), copying what
  // the request does not cover from the clusters' current contents.
  int write_new_clusters(uint64_t vcluster, uint64_t count, uint64_t offset, uint64_t length,
                         std::span<const iovec> iov);
  int write_in_place(uint64_t host, std::span<const iovec> iov);
  bool overlaps_metadata(uint64_t host, uint64_t length) const;
  int write_zero_bytes(uint64_t offset, uint64_t length);
  // Zeroes [offset, offset+length) inside one cluster, unless it reads as zeroes already.
  int zero_partial_cluster(uint64_t offset, uint64_t length);
  int zero_v2_cluster(uint64_t vcluster, bool may_unmap);
  // Changes the L2 entries of whole clusters [first, first+count) (one L2 table) with
  // `next(old_entry) -> new_entry`, freeing what the old entries referenced.
  template <typename Next>
  int rewrite_entries(uint64_t first, uint64_t count, Next next);
  void release(uint64_t entry);  // frees what an L2 entry references (deferred)
  // Metadata write-back between requests when the caches are full or O_DSYNC needs it.
  int end_modify(int result);

  // --- Snapshots and whole-image changes (qcow2_snapshot.cc, qcow2_resize.cc) ---
  // Writes the metadata back and checks that the image may change; throws Error.
  void begin_update(const char* what);
  // Throws Error "could not <what> '<image>': <errno text>" when r < 0 (the image then refuses
  // writes: memory and file may disagree).
  void must(int r, const char* what);
  std::vector<uint64_t> read_l1_table(uint64_t offset, uint32_t entries);
  // The snapshot table; its size in bytes in *table_bytes (if not null).
  std::vector<SnapshotEntry> read_snapshots(uint64_t* table_bytes);
  // One more reference to L2 table `l2_offset` and to every cluster it references (a new L1
  // table shares it); with clear_copied, the table's entries lose their COPIED flags.
  int reference_l2(uint64_t l2_offset, bool clear_copied);
  // One reference less to the table and its clusters, applied by the next write-back.
  int release_l2(uint64_t l2_offset);
  int reference_entry(uint64_t entry);
  // Sets COPIED in the active L1 and L2 entries exactly where the refcount is 1.
  int fix_copied_flags();
  // Writes `entries` as the new snapshot table, points the header at it, frees the old one.
  void write_snapshot_table(const std::vector<SnapshotEntry>& entries, uint64_t old_bytes);
  void grow_l1(uint64_t entries);
  // Writes a header field and makes it durable.
  int write_header(uint64_t offset, const void* data, size_t len);
  // write_back() when the caches or the pending frees have grown too large.
  int drain();

  // --- Refcounts and write-back (qcow2_refcount.cc) ---
  // Allocates `count` contiguous clusters (refcount 1) at the end of the used area.
  int alloc_clusters(uint64_t count, uint64_t& offset);
  // Finds `count` contiguous clusters with refcount 0 from alloc_end_ on and reserves them
  // (refcounts unchanged).
  int claim_clusters(uint64_t count, uint64_t& offset);
  int cluster_refcount(uint64_t cluster_index, uint64_t& value);
  int update_refcount(uint64_t cluster_index, int64_t delta, uint64_t* result = nullptr);
  int grow_refcount_table(uint64_t needed_index);
  int refcount_block(uint64_t table_index, TablePtr& out);
  uint64_t get_refcount(const Table& block, uint64_t index) const;
  void set_refcount(Table& block, uint64_t index, uint64_t value);
  // Queues the decrement of every cluster of [offset, offset+length) for step 5 of write_back.
  void free_later(uint64_t offset, uint64_t length);
  int write_back();
  int barrier();
  int file_write(uint64_t offset, const void* buf, size_t len);
  int file_write(uint64_t offset, std::span<const iovec> iov);
  int write_tables(TableCache& cache);
  int apply_frees();

  ImageFile file_;
  Header header_;
  bool read_only_;
  CacheMode cache_;
  std::unique_ptr<SyncImage> backing_;
  bool corrupt_ = false;

  uint32_t l2_bits_;        // log2(entries per L2 table)
  uint32_t refblock_bits_;  // log2(entries per refcount block)
  std::vector<uint64_t> l1_;
  std::set<uint64_t> l1_dirty_;
  std::vector<uint64_t> refcount_table_;  // its whole capacity
  std::set<uint64_t> refcount_table_dirty_;
  uint64_t refcount_table_offset_;
  uint64_t refcount_table_clusters_;
  bool refcount_table_moved_ = false;
  TableCache l2_cache_;
  TableCache refblock_cache_;

  uint64_t alloc_end_;  // next free cluster: everything from here on is unused
  std::vector<std::pair<uint64_t, uint64_t>> pending_frees_;  // (offset, length), in order
  bool metadata_dirty_ = false;
  bool unsynced_ = false;  // something was written since the last fdatasync
  uint64_t syncs_ = 0;

  // The last compressed cluster read, decompressed.
  uint64_t compressed_entry_ = 0;
  std::vector<uint8_t> compressed_data_;
  std::vector<uint8_t> compressed_buffer_;
  std::vector<uint8_t> zeroes_;  // a buffer of zeroes for write_zero_bytes

  // Compressed writes: the next free byte of the host cluster compressed data are packed into
  // (0: none), and the compressor write_compressed uses.
  uint64_t compressed_free_ = 0;
  std::unique_ptr<ClusterCompressor> compressor_;
  std::vector<uint8_t> compress_buffer_;
};

// The images of a backing chain opened so far (device, inode), top first, to refuse loops.
struct BackingChain {
  struct Link {
    uint64_t dev;
    uint64_t ino;
    std::string path;
  };
  std::vector<Link> links;
};

}  // namespace tandem::qcow2
