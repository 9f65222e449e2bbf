// Qcow2Image: changes to the whole image — growing the L1 table, resizing, emptying (after a
// commit) and changing the backing file. Each follows the rule of the write-back (see
// qcow2_image.h): new structures are written and made durable before the header or the table
// that points at them changes, and what loses its last reference is freed only afterwards.
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/error.h"
#include "block/qcow2/qcow2_format.h"
#include "block/qcow2/qcow2_image.h"

namespace tandem::qcow2 {

namespace {

uint64_t round_up(uint64_t v, uint64_t to) {
  return (v + to - 1) / to * to;
}

// Header fields (offsets in the header).
constexpr uint64_t kBackingFileOffsetField = 8;  // u64 offset, then u32 size
constexpr uint64_t kSizeField = 24;
constexpr uint64_t kL1SizeField = 36;  // u32 size, then u64 offset

}  // namespace

void Qcow2Image::grow_l1(uint64_t entries) {
  constexpr const char* kWhat = "grow the L1 table of";
  if (entries * 8 > kMaxL1Bytes) {
    fail("The image size is too large for file format 'qcow2' (try using a larger cluster size)");
  }
  uint64_t cs = cluster_size();
  must(flush(), kWhat);
  std::vector<uint8_t> table(round_up(entries * 8, cs));
  for (size_t i = 0; i < l1_.size(); ++i) store_be64(&table[i * 8], l1_[i]);
  uint64_t offset;
  must(alloc_clusters(table.size() / cs, offset), kWhat);
  must(file_write(offset, table.data(), table.size()), kWhat);
  must(flush(), kWhat);
  uint8_t field[12];
  store_be32(field, static_cast<uint32_t>(entries));
  store_be64(field + 4, offset);
  must(write_header(kL1SizeField, field, sizeof field), kWhat);
  uint64_t old_offset = header_.l1_table_offset;
  uint64_t old_entries = header_.l1_size;
  header_.l1_size = static_cast<uint32_t>(entries);
  header_.l1_table_offset = offset;
  l1_.resize(entries, 0);
  if (old_entries > 0) free_later(old_offset, round_up(old_entries * 8, cs));
  must(flush(), kWhat);
}

void Qcow2Image::resize(uint64_t new_size) {
  constexpr const char* kWhat = "resize";
  if (new_size % 512 != 0) fail("The new size must be a multiple of 512");
  begin_update(kWhat);
  uint64_t cs = cluster_size();
  unsigned cb = header_.cluster_bits;
  Header sized = header_;
  sized.size = new_size;
  uint64_t needed = sized.l1_entries_needed();
  if (needed * 8 > kMaxL1Bytes) {
    fail("The image size is too large for file format 'qcow2' (try using a larger cluster size)");
  }
  uint64_t old_size = header_.size;
  uint8_t field[8];
  store_be64(field, new_size);
  if (new_size > old_size) {
    if (needed > l1_.size()) grow_l1(needed);
    must(write_header(kSizeField, field, sizeof field), kWhat);
    header_.size = new_size;
    // The new area reads as zeroes: neither the rest of the old last cluster (which may hold
    // data from before a shrink) nor a longer backing file may show through.
    uint64_t zero_end = std::max(round_up(old_size, cs), backing_ ? backing_->size() : 0);
    zero_end = std::min(zero_end, new_size);
    if (zero_end > old_size) must(write_zeroes(old_size, zero_end - old_size, false), kWhat);
    must(flush(), kWhat);
    return;
  }
  if (new_size == old_size) return;

  // Shrinking: the size first (what lies beyond is still referenced and counted), then the
  // clusters past the new end go.
  must(write_header(kSizeField, field, sizeof field), kWhat);
  header_.size = new_size;
  uint64_t first = round_up(new_size, cs) >> cb;  // the first guest cluster to drop
  for (uint64_t i = first >> l2_bits_; i < l1_.size(); ++i) {
    uint64_t off = l1_[i] & kOffsetMask;
    if (off == 0) continue;
    uint64_t table_first = i << l2_bits_;
    if (table_first >= first) {
      must(release_l2(off), kWhat);
      l1_[i] = 0;
      l1_dirty_.insert(i);
      metadata_dirty_ = true;
    } else {
      // The table that maps the new end keeps its first entries.
      uint64_t end = (i + 1) << l2_bits_;
      bool any = false;
      for (uint64_t vc = first; vc < end && !any; ++vc) {
        uint64_t e;
        must(l2_entry(vc, e), kWhat);
        any = e != 0;
      }
      if (any) {
        TablePtr table;
        must(writable_l2(i, table), kWhat);
        uint64_t mask = (uint64_t{1} << l2_bits_) - 1;
        for (uint64_t vc = first; vc < end; ++vc) {
          uint64_t e = table->entry(vc & mask);
          if (e == 0) continue;
          must(check_l2_entry(e), kWhat);
          release(e);
          table->set_entry(vc & mask, 0);
        }
        metadata_dirty_ = true;
      }
    }
    must(drain(), kWhat);
  }
  must(flush(), kWhat);
}

void Qcow2Image::make_empty() {
  constexpr const char* kWhat = "empty";
  begin_update(kWhat);
  for (size_t i = 0; i < l1_.size(); ++i) {
    uint64_t off = l1_[i] & kOffsetMask;
    if (off == 0) continue;
    must(release_l2(off), kWhat);
    l1_[i] = 0;
    l1_dirty_.insert(i);
    metadata_dirty_ = true;
    must(drain(), kWhat);
  }
  must(flush(), kWhat);
}

void Qcow2Image::set_backing_file(const std::string& name, const std::string& format) {
  constexpr const char* kWhat = "change the backing file of";
  if (name.size() > kMaxBackingFileSize) {
    fail("the backing file name '{}' is too long ({} bytes, at most {})", name, name.size(),
         kMaxBackingFileSize);
  }
  if (name.find('\0') != std::string::npos) fail("the backing file name contains a NUL byte");
  begin_update(kWhat);
  uint64_t cs = cluster_size();
  std::vector<uint8_t> old(cs, 0);
  if (int r = file_.read(0, old.data(), std::min<uint64_t>(cs, file_.size())); r < 0) {
    must(r, kWhat);
  }

  // The fixed header, then the extensions (all but the backing format, kept as they were), the
  // end marker and the name, rewritten in one write of the header cluster.
  std::vector<uint8_t> out(old.begin(), old.begin() + header_.header_length);
  auto put = [&](uint32_t type, const uint8_t* data, uint32_t len) {
    size_t pos = out.size();
    out.resize(pos + 8 + round_up(len, 8), 0);
    store_be32(&out[pos], type);
    store_be32(&out[pos + 4], len);
    if (len) std::memcpy(&out[pos + 8], data, len);
  };
  if (!name.empty() && !format.empty()) {
    put(kExtBackingFormat, reinterpret_cast<const uint8_t*>(format.data()),
        static_cast<uint32_t>(format.size()));
  }
  for (size_t pos = header_.header_length; pos + 8 <= cs;) {
    uint32_t type = load_be32(&old[pos]);
    uint32_t len = load_be32(&old[pos + 4]);
    if (type == kExtEnd || len > cs - pos - 8) break;
    if (type != kExtBackingFormat) put(type, &old[pos + 8], len);
    pos += 8 + round_up(len, 8);
  }
  out.resize(out.size() + 8, 0);  // end of the extensions
  uint64_t name_offset = name.empty() ? 0 : out.size();
  out.insert(out.end(), name.begin(), name.end());
  if (out.size() > cs) {
    fail("could not change the backing file of '{}': the header cluster has no room for the name",
         path());
  }
  store_be64(&out[kBackingFileOffsetField], name_offset);
  store_be32(&out[kBackingFileOffsetField + 8], static_cast<uint32_t>(name.size()));
  out.resize(cs, 0);
  must(write_header(0, out.data(), out.size()), kWhat);
  header_.backing_file_offset = name_offset;
  header_.backing_file_size = static_cast<uint32_t>(name.size());
  header_.backing_file = name;
  header_.backing_format = name.empty() ? "" : format;
}

}  // namespace tandem::qcow2
