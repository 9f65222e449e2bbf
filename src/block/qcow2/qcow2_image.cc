// Qcow2Image: opening (header, feature bits, tables, backing chain) and reading.
#include "block/qcow2/qcow2_image.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/error.h"
#include "base/log.h"
#include "block/iov_util.h"
#include "block/qcow2/backing.h"
#include "block/qcow2/compression.h"
#include "block/qcow2/iov_slice.h"
#include "block/qcow2/qcow2_format.h"

namespace tandem::qcow2 {

namespace {

// The features an image may use that this driver cannot honour, for the error message.
std::vector<std::string> unsupported_features(const Header& h) {
  std::vector<std::string> out;
  if (h.incompatible_features & kIncompatDataFile) out.push_back("external data file");
  if (h.incompatible_features & kIncompatExtendedL2) out.push_back("extended L2 entries");
  if (h.crypt_method == 1) out.push_back("AES encryption");
  if (h.crypt_method == 2) out.push_back("LUKS encryption");
  if (h.crypt_method > 2) out.push_back(fmt::format("encryption method {}", h.crypt_method));
  constexpr uint64_t kKnown = kIncompatDirty | kIncompatCorrupt | kIncompatDataFile |
                              kIncompatCompression | kIncompatExtendedL2;
  for (unsigned bit = 0; bit < 64; ++bit) {
    if (!(h.incompatible_features & ~kKnown & (1ull << bit))) continue;
    std::string name = h.feature_name(0, bit);
    out.push_back(name.empty()
                      ? fmt::format("unknown incompatible feature bit {}", bit)
                      : fmt::format("unknown incompatible feature bit {} ('{}')", bit, name));
  }
  return out;
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

}  // namespace

std::unique_ptr<Qcow2Image> Qcow2Image::open(const std::string& path, const Options& options) {
  BackingChain chain;
  return open(path, options, chain);
}

std::unique_ptr<Qcow2Image> Qcow2Image::open(const std::string& path, const Options& options,
                                             BackingChain& chain) {
  RawFile raw = open_raw_file(path, options.read_only, options.cache);
  struct stat st;
  if (::fstat(raw.fd.get(), &st) < 0) fail_errno("could not stat '{}'", path);
  ImageFile file(path, std::move(raw), uses_o_direct(options.cache));

  // The header's fixed part tells the cluster size; the whole first cluster holds the rest.
  std::vector<uint8_t> first(std::min<uint64_t>(file.size(), kHeaderProbeBytes));
  if (int r = file.read(0, first.data(), first.size()); r < 0) {
    errno = -r;
    fail_errno("could not read '{}'", path);
  }
  if (first.size() >= 24 && load_be32(first.data()) == kMagic) {
    uint32_t bits = load_be32(&first[20]);
    if (bits >= kMinClusterBits && bits <= kMaxClusterBits) {
      first.resize(std::min<uint64_t>(file.size(), uint64_t{1} << bits));
      if (int r = file.read(0, first.data(), first.size()); r < 0) {
        errno = -r;
        fail_errno("could not read '{}'", path);
      }
    }
  }
  Header header = parse_header(first, file.size(), path);

  std::vector<std::string> unsupported = unsupported_features(header);
  if (!unsupported.empty()) {
    fail("qcow2 image '{}' uses features Tandem does not support: {}", path, join(unsupported));
  }
  if (!options.read_only && (header.incompatible_features & kIncompatCorrupt)) {
    fail(
        "qcow2 image '{}' is marked corrupt: it can only be opened read-only (readonly=on); "
        "'qemu-img check -r all' may repair it",
        path);
  }
  if (!options.read_only && (header.incompatible_features & kIncompatDirty)) {
    fail(
        "qcow2 image '{}' is marked dirty (its refcounts may be out of date): repair it with "
        "'qemu-img check -r all {}' or open it read-only",
        path, path);
  }
  if (header.incompatible_features & kIncompatCorrupt) {
    TLOG_WARN("qcow2 image '{}' is marked corrupt; reading it anyway (read-only)", path);
  }

  file.set_observer(options.observer);
  std::unique_ptr<Qcow2Image> image(new Qcow2Image(std::move(file), std::move(header), options));
  image->load_tables();
  if (!options.read_only && image->header_.autoclear_features != 0) image->clear_autoclear_bits();

  chain.links.push_back({static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino), path});
  if (!image->header_.backing_file.empty() && options.open_backing) {
    image->backing_ = open_backing_image(resolve_backing_path(path, image->header_.backing_file),
                                         image->header_.backing_format, options.cache, chain);
  }
  return image;
}

Qcow2Image::Qcow2Image(ImageFile file, Header header, const Options& options)
    : file_(std::move(file)),
      header_(std::move(header)),
      read_only_(options.read_only),
      cache_(options.cache),
      l2_bits_(header_.cluster_bits - 3),
      refblock_bits_(header_.cluster_bits + 3 - header_.refcount_order),
      refcount_table_offset_(header_.refcount_table_offset),
      refcount_table_clusters_(header_.refcount_table_clusters),
      l2_cache_(header_.cluster_size(),
                std::max<size_t>(4, options.l2_cache_bytes / header_.cluster_size())),
      refblock_cache_(header_.cluster_size(),
                      std::max<size_t>(4, options.refcount_cache_bytes / header_.cluster_size())),
      alloc_end_((file_.size() + header_.cluster_size() - 1) & ~(header_.cluster_size() - 1)) {}

Qcow2Image::~Qcow2Image() {
  if (read_only_) return;
  int r = flush();
  if (r < 0) {
    TLOG_ERROR("qcow2 image '{}': could not write back its metadata: {}", path(), strerror(-r));
  }
}

uint64_t Qcow2Image::file_limit() const {
  return std::max(file_.size(), alloc_end_);
}

bool Qcow2Image::valid_table_offset(uint64_t offset) const {
  uint64_t cs = cluster_size();
  return offset % cs == 0 && offset >= cs && offset <= file_limit() - cs;
}

int Qcow2Image::corrupt(const std::string& what) {
  if (!corrupt_) {
    TLOG_ERROR("qcow2 image '{}' is corrupt: {}; requests touching it fail with EIO", path(), what);
  }
  corrupt_ = true;
  return -EIO;
}

void Qcow2Image::load_tables() {
  uint64_t cs = cluster_size();
  l1_.resize(header_.l1_size);
  if (!l1_.empty()) {
    if (int r = file_.read(header_.l1_table_offset, l1_.data(), l1_.size() * 8); r < 0) {
      errno = -r;
      fail_errno("could not read the L1 table of '{}'", path());
    }
  }
  for (size_t i = 0; i < l1_.size(); ++i) {
    uint64_t e = l1_[i] = load_be64(reinterpret_cast<const uint8_t*>(&l1_[i]));
    if (e & kL1ReservedMask) {
      fail("invalid qcow2 image '{}': L1 entry {} ({:#x}) has reserved bits set", path(), i, e);
    }
    uint64_t off = e & kOffsetMask;
    if (off != 0 && !valid_table_offset(off)) {
      fail("invalid qcow2 image '{}': L1 entry {} points to an L2 table at {:#x}, {}", path(), i,
           off,
           off % cs ? "not aligned to a cluster"
                    : (off < cs ? "inside the header" : "outside the file"));
    }
  }

  refcount_table_.resize(refcount_table_clusters_ * cs / 8);
  if (int r =
          file_.read(refcount_table_offset_, refcount_table_.data(), refcount_table_.size() * 8);
      r < 0) {
    errno = -r;
    fail_errno("could not read the refcount table of '{}'", path());
  }
  for (size_t i = 0; i < refcount_table_.size(); ++i) {
    uint64_t e = refcount_table_[i] =
        load_be64(reinterpret_cast<const uint8_t*>(&refcount_table_[i]));
    if (e & kRefcountTableReservedMask) {
      fail("invalid qcow2 image '{}': refcount table entry {} ({:#x}) is not aligned", path(), i,
           e);
    }
    if (e != 0 && !valid_table_offset(e)) {
      fail(
          "invalid qcow2 image '{}': refcount table entry {} points to a refcount block at {:#x}, "
          "{}",
          path(), i, e,
          e % cs ? "not aligned to a cluster"
                 : (e < cs ? "inside the header" : "outside the file"));
    }
  }
}

void Qcow2Image::clear_autoclear_bits() {
  // The bitmaps (bit 0) are not kept up to date here, and no other autoclear feature is known:
  // the spec asks writers to clear such bits before writing.
  uint8_t zero[8] = {};
  if (file_.write(kAutoclearField, zero, 8) < 0 || file_.sync() < 0) {
    fail_errno("could not update the header of '{}'", path());
  }
  header_.autoclear_features = 0;
}

// --- Mapping ------------------------------------------------------------------------------------

int Qcow2Image::load_table(TableCache& cache, uint64_t offset, TablePtr& out) {
  out = cache.find(offset);
  if (out) return 0;
  out = cache.insert(offset);
  if (int r = file_.read(offset, out->data(), out->size()); r < 0) {
    cache.erase(offset);
    out.reset();
    return r;
  }
  return 0;
}

int Qcow2Image::l2_entry(uint64_t vcluster, uint64_t& entry) {
  uint64_t l1_index = vcluster >> l2_bits_;
  entry = 0;
  if (l1_index >= l1_.size()) return corrupt("guest cluster beyond the L1 table");
  uint64_t l2_offset = l1_[l1_index] & kOffsetMask;
  if (l2_offset == 0) return 0;
  if (!valid_table_offset(l2_offset)) {
    return corrupt(fmt::format("L1 entry {} points to {:#x}", l1_index, l2_offset));
  }
  TablePtr table;
  if (int r = load_table(l2_cache_, l2_offset, table); r < 0) return r;
  entry = table->entry(vcluster & ((uint64_t{1} << l2_bits_) - 1));
  return check_l2_entry(entry);
}

int Qcow2Image::check_l2_entry(uint64_t entry) {
  uint64_t cs = cluster_size();
  if (entry & kOflagCompressed) {
    CompressedExtent c = decode_compressed(entry, header_.cluster_bits);
    if (c.offset < cs || c.offset >= file_limit() || c.offset >= (uint64_t{1} << 56)) {
      return corrupt(
          fmt::format("compressed cluster at {:#x} outside the file's data area", c.offset));
    }
    return 0;
  }
  uint64_t off = entry & kOffsetMask;
  if ((entry & kOflagZero) && header_.version < 3) {
    return corrupt(fmt::format("zero cluster entry {:#x} in a version 2 image", entry));
  }
  if (off == 0) {
    if ((entry & kOflagCopied) && !(entry & kOflagZero)) {
      return corrupt(fmt::format("L2 entry {:#x} points into the header", entry));
    }
    return 0;
  }
  if (off % cs) return corrupt(fmt::format("L2 entry {:#x} is not cluster-aligned", entry));
  if (off < cs) return corrupt(fmt::format("L2 entry {:#x} points into the header", entry));
  if (off >= file_limit()) {
    return corrupt(fmt::format("L2 entry {:#x} points outside the file", entry));
  }
  return 0;
}

bool Qcow2Image::reads_as_zero(uint64_t entry) const {
  if (entry & kOflagCompressed) return false;
  if (entry & kOflagZero) return true;
  return (entry & kOffsetMask) == 0 && !backing_;
}

int Qcow2Image::read_backing(uint64_t offset, std::span<const iovec> iov) {
  uint64_t len = iov_total(iov).value_or(0);
  uint64_t below = 0;
  if (backing_ && offset < backing_->size()) below = std::min(len, backing_->size() - offset);
  if (below > 0) {
    std::vector<iovec> part = iov_slice(iov, 0, below);
    if (int r = backing_->read(offset, part); r < 0) return r;
  }
  if (below < len) iov_zero(iov_slice(iov, below, len - below));
  return 0;
}

int Qcow2Image::read_compressed(uint64_t entry, uint8_t*& out) {
  uint64_t cs = cluster_size();
  if (compressed_entry_ == entry && !compressed_data_.empty()) {
    out = compressed_data_.data();
    return 0;
  }
  CompressedExtent c = decode_compressed(entry, header_.cluster_bits);
  // The stored size is an upper bound that may run past the end of the file (QEMU writes only
  // the bytes it needs); what lies beyond reads as zeroes, which no decoder needs.
  uint64_t len = std::min(c.length, 2 * cs + 512);
  compressed_buffer_.resize(len);
  if (int r = file_.read(c.offset, compressed_buffer_.data(), len); r < 0) return r;
  compressed_data_.resize(cs);
  compressed_entry_ = 0;
  if (decompress_cluster(header_.compression_type, compressed_buffer_, compressed_data_) < 0) {
    compressed_data_.clear();
    return corrupt(fmt::format("compressed cluster at {:#x} does not decompress", c.offset));
  }
  compressed_entry_ = entry;
  out = compressed_data_.data();
  return 0;
}

int Qcow2Image::read_cluster_part(uint64_t vcluster, uint64_t entry, uint64_t in_off, uint64_t len,
                                  std::span<const iovec> iov) {
  if (entry & kOflagCompressed) {
    uint8_t* data;
    if (int r = read_compressed(entry, data); r < 0) return r;
    copy_to_iov(iov, 0, data + in_off, len);
    return 0;
  }
  if (entry & kOflagZero) {
    iov_zero(iov);
    return 0;
  }
  uint64_t host = entry & kOffsetMask;
  if (host == 0) return read_backing((vcluster << header_.cluster_bits) + in_off, iov);
  return file_.read(host + in_off, iov);
}

int Qcow2Image::read(uint64_t offset, std::span<const iovec> iov) {
  auto total = iov_total(iov);
  if (!total || offset > size() || *total > size() - offset) return -EINVAL;
  uint64_t len = *total;
  uint64_t cs = cluster_size();
  std::vector<iovec> part;
  uint64_t done = 0;
  while (done < len) {
    uint64_t pos = offset + done;
    uint64_t vc = pos >> header_.cluster_bits;
    uint64_t in_off = pos & (cs - 1);
    uint64_t entry;
    if (int r = l2_entry(vc, entry); r < 0) return r;
    uint64_t n = std::min(cs - in_off, len - done);
    // Extend over following clusters that read the same way in one go: host clusters that are
    // contiguous in the file, or runs of unallocated or zero clusters.
    bool compressed = entry & kOflagCompressed;
    bool zero = !compressed && (entry & kOflagZero);
    uint64_t host = compressed || zero ? 0 : entry & kOffsetMask;
    while (!compressed && done + n < len) {
      uint64_t next;
      if (int r = l2_entry(vc + 1, next); r < 0) return r;
      bool next_zero = !(next & kOflagCompressed) && (next & kOflagZero);
      uint64_t next_host = (next & (kOflagCompressed | kOflagZero)) ? 0 : next & kOffsetMask;
      bool same =
          (next & kOflagCompressed) == 0 && next_zero == zero &&
          (zero || (host == 0 ? next_host == 0
                              : next_host == host + ((vc + 1 - (pos >> header_.cluster_bits))
                                                     << header_.cluster_bits)));
      if (!same) break;
      ++vc;
      n += std::min(cs, len - done - n);
    }
    part.clear();
    iov_slice(iov, done, n, part);
    if (int r = read_cluster_part(pos >> header_.cluster_bits, entry, in_off, n, part); r < 0) {
      return r;
    }
    done += n;
  }
  l2_cache_.trim();
  return 0;
}

}  // namespace tandem::qcow2
