// The qcow2 internal snapshot table, read for `tandem img info` (the snapshot list) and
// `tandem img check` (each snapshot's L1 table holds references).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "block/qcow2/qcow2_header.h"
#include "block/qcow2/qcow2_snapshot_table.h"

namespace tandem::img {

using Snapshot = qcow2::SnapshotEntry;

struct SnapshotTable {
  std::vector<Snapshot> snapshots;
  uint64_t bytes = 0;  // the table's size in the file
};

// Reads the header's nb_snapshots entries at snapshots_offset from the open image `fd`. Throws
// Error naming the file when an entry runs outside the file or is malformed.
SnapshotTable read_snapshot_table(int fd, const qcow2::Header& header, uint64_t file_size,
                                  const std::string& path);

// qemu-img info's snapshot list: the column titles and one line per snapshot (local time).
std::string snapshot_header_line();
std::string snapshot_line(const Snapshot& s);

}  // namespace tandem::img
