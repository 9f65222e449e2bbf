// The qcow2 internal snapshot table (QEMU's docs/interop/qcow2.txt, "Snapshots"): entries of a
// 40-byte fixed part (L1 table offset and size, ID and name lengths, date, VM clock, VM state
// size, extra data size), the extra data (64-bit VM state size, virtual disk size, icount), the
// ID and name strings, padded to 8 bytes. Read for listing and for every snapshot operation, and
// encoded again whole when a snapshot is added or removed.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "block/qcow2/qcow2_header.h"

namespace tandem::qcow2 {

struct SnapshotEntry {
  uint64_t l1_table_offset = 0;
  uint32_t l1_size = 0;
  std::string id;
  std::string name;
  uint32_t date_sec = 0;
  uint32_t date_nsec = 0;
  uint64_t vm_clock_nsec = 0;
  uint64_t vm_state_size = 0;
  std::optional<uint64_t> disk_size;  // the virtual size when taken (unknown in old images)
  std::optional<uint64_t> icount;     // unknown in older images, or -1 stored
  // The extra data as stored; rewritten as it was (it may hold fields newer than this code).
  std::vector<uint8_t> extra;
};

// QEMU's limits: extra data per entry and the whole table.
inline constexpr uint32_t kMaxSnapshotExtraData = 1024;
inline constexpr uint64_t kMaxSnapshotTableBytes = 64ull << 20;

// Reads `len` bytes at `offset` of the image file: 0 or -errno.
using FileReader = std::function<int(uint64_t offset, void* buf, size_t len)>;

// Reads the header's nb_snapshots entries at snapshots_offset. `table_bytes` (if given) receives
// the table's length in the file. Throws Error naming the file when an entry runs outside the
// file or is malformed.
std::vector<SnapshotEntry> read_snapshot_entries(const FileReader& read, const Header& header,
                                                 uint64_t file_size, const std::string& path,
                                                 uint64_t* table_bytes = nullptr);

// The table as it is stored. A new entry (empty `extra`) gets 24 bytes of extra data.
std::vector<uint8_t> encode_snapshot_table(const std::vector<SnapshotEntry>& entries);

// The extra data of a new entry: VM state size, disk size, icount.
std::vector<uint8_t> snapshot_extra_data(uint64_t vm_state_size, uint64_t disk_size,
                                         std::optional<uint64_t> icount);

}  // namespace tandem::qcow2
