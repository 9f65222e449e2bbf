// Small helpers on iovec lists (scatter-gather buffers).
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace tandem {

// Sum of the lengths, or nullopt if it does not fit in 64 bits.
std::optional<uint64_t> iov_total(std::span<const iovec> iov);

// Copy n bytes between a flat buffer and the iovec list, starting `offset` bytes into the list.
// Return how many bytes were copied (fewer if the list ends first).
size_t copy_to_iov(std::span<const iovec> iov, uint64_t offset, const uint8_t* src, size_t n);
size_t copy_from_iov(std::span<const iovec> iov, uint64_t offset, uint8_t* dst, size_t n);

// A transfer's position in its buffers: buffer `index`, `skip` bytes into it. iov_advance moves
// it on by the n bytes a (short) read or write transferred.
void iov_advance(std::span<const iovec> iov, size_t& index, size_t& skip, uint64_t n);
// The buffers from that position on, for the next system call: `iov` itself when that is all of
// it and at most `max` buffers, else the rest (the first one trimmed, at most `max`, empty ones
// left out) copied into `scratch`.
std::span<const iovec> iov_rest(std::span<const iovec> iov, size_t index, size_t skip, size_t max,
                                std::vector<iovec>& scratch);
// Zeroes the buffers from that position on (a read that met the end of the file).
void iov_zero_rest(std::span<const iovec> iov, size_t index, size_t skip);

// What the raw and qcow2 drivers' asynchronous transfers have in common: the file offset and
// the buffers still to go, moved on by each (possibly short) system call.
struct IovTransfer {
  uint64_t offset = 0;  // in the file, of the next byte
  std::vector<iovec> iov;
  size_t index = 0;  // first buffer not finished
  size_t skip = 0;   // bytes of iov[index] already done
  uint64_t remaining = 0;
  std::vector<iovec> step_iov;  // scratch for a resumed step

  // Counts `done` bytes (at most what remains) as transferred.
  void advance(uint64_t done);
  // The buffers for the next system call, at most `max` of them.
  std::span<const iovec> rest(size_t max) { return iov_rest(iov, index, skip, max, step_iov); }
  // Zeroes what is left (a read that met the end of the file).
  void zero_rest() const { iov_zero_rest(iov, index, skip); }
};

}  // namespace tandem
