// Small helpers on iovec lists (scatter-gather buffers).
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace tandem {

// Sum of the lengths, or nullopt if it does not fit in 64 bits.
std::optional<uint64_t> iov_total(std::span<const iovec> iov);

// Copy n bytes between a flat buffer and the iovec list, starting `offset` bytes into the list.
// Return how many bytes were copied (fewer if the list ends first).
size_t copy_to_iov(std::span<const iovec> iov, uint64_t offset, const uint8_t* src, size_t n);
size_t copy_from_iov(std::span<const iovec> iov, uint64_t offset, uint8_t* dst, size_t n);

}  // namespace tandem
