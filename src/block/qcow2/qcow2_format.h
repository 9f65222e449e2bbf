// The qcow2 on-disk format (QEMU's docs/interop/qcow2.txt): constants, the bits of L1, L2 and
// refcount table entries, and big-endian access. Everything on disk is big-endian.
#pragma once

#include <cstdint>
#include <cstring>

namespace tandem::qcow2 {

inline constexpr uint32_t kMagic = 0x514649fb;  // "QFI\xfb"
inline constexpr uint32_t kMinClusterBits = 9;
inline constexpr uint32_t kMaxClusterBits = 21;
inline constexpr uint32_t kV2HeaderLength = 72;
inline constexpr uint32_t kV3MinHeaderLength = 104;
inline constexpr uint32_t kMaxBackingFileSize = 1023;
// QEMU's implementation limits: bigger tables are refused (and never created) by QEMU too.
inline constexpr uint64_t kMaxL1Bytes = 32ull << 20;
inline constexpr uint64_t kMaxRefcountTableBytes = 8ull << 20;
inline constexpr uint32_t kMaxSnapshots = 65536;

// Header field offsets (the ones written back).
inline constexpr uint64_t kRefcountTableOffsetField = 48;  // u64 offset, then u32 clusters
inline constexpr uint64_t kAutoclearField = 88;

// Incompatible feature bits.
inline constexpr uint64_t kIncompatDirty = 1ull << 0;
inline constexpr uint64_t kIncompatCorrupt = 1ull << 1;
inline constexpr uint64_t kIncompatDataFile = 1ull << 2;
inline constexpr uint64_t kIncompatCompression = 1ull << 3;
inline constexpr uint64_t kIncompatExtendedL2 = 1ull << 4;
// Compatible feature bits.
inline constexpr uint64_t kCompatLazyRefcounts = 1ull << 0;

inline constexpr uint8_t kCompressionZlib = 0;
inline constexpr uint8_t kCompressionZstd = 1;

// Header extension types.
inline constexpr uint32_t kExtEnd = 0;
inline constexpr uint32_t kExtBackingFormat = 0xe2792aca;
inline constexpr uint32_t kExtFeatureNames = 0x6803f857;
inline constexpr uint32_t kExtBitmaps = 0x23852875;
inline constexpr uint32_t kExtEncryption = 0x0537be77;
inline constexpr uint32_t kExtDataFile = 0x44415441;

// L1 and L2 entries.
inline constexpr uint64_t kOflagCopied = 1ull << 63;      // refcount exactly 1: write in place
inline constexpr uint64_t kOflagCompressed = 1ull << 62;  // L2 only
inline constexpr uint64_t kOflagZero = 1ull << 0;         // L2 only, version 3
inline constexpr uint64_t kOffsetMask = 0x00fffffffffffe00ull;  // bits 9-55
inline constexpr uint64_t kL1ReservedMask = 0x7f000000000001ffull;
inline constexpr uint64_t kL2StandardReservedMask = 0x3f000000000001feull;
inline constexpr uint64_t kRefcountTableReservedMask = 0x1ffull;

inline uint16_t load_be16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}
inline uint32_t load_be32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return __builtin_bswap32(v);
}
inline uint64_t load_be64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return __builtin_bswap64(v);
}
inline void store_be16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void store_be32(uint8_t* p, uint32_t v) {
  v = __builtin_bswap32(v);
  std::memcpy(p, &v, 4);
}
inline void store_be64(uint8_t* p, uint64_t v) {
  v = __builtin_bswap64(v);
  std::memcpy(p, &v, 8);
}

// Entry `index` of a refcount block whose entries are 2^order bits wide (order 0..6).
inline uint64_t load_refcount(const uint8_t* block, unsigned order, uint64_t index) {
  switch (order) {
    case 0:
    case 1:
    case 2: {
      const unsigned bits = 1u << order;
      const uint64_t bit = index * bits;
      return (block[bit / 8] >> (bit % 8)) & ((1u << bits) - 1);
    }
    case 3:
      return block[index];
    case 4:
      return load_be16(block + index * 2);
    case 5:
      return load_be32(block + index * 4);
    default:
      return load_be64(block + index * 8);
  }
}
inline void store_refcount(uint8_t* block, unsigned order, uint64_t index, uint64_t value) {
  switch (order) {
    case 0:
    case 1:
    case 2: {
      const unsigned bits = 1u << order;
      const uint64_t bit = index * bits;
      const uint8_t mask = static_cast<uint8_t>(((1u << bits) - 1) << (bit % 8));
      block[bit / 8] =
          static_cast<uint8_t>((block[bit / 8] & ~mask) | ((value << (bit % 8)) & mask));
      break;
    }
    case 3:
      block[index] = static_cast<uint8_t>(value);
      break;
    case 4:
      store_be16(block + index * 2, static_cast<uint16_t>(value));
      break;
    case 5:
      store_be32(block + index * 4, static_cast<uint32_t>(value));
      break;
    default:
      store_be64(block + index * 8, value);
      break;
  }
}

// A compressed cluster's descriptor: where its data starts in the file (any byte) and how many
// bytes may belong to it (the rest of the first 512-byte sector plus the additional sectors).
struct CompressedExtent {
  uint64_t offset;
  uint64_t length;
};
inline CompressedExtent decode_compressed(uint64_t entry, uint32_t cluster_bits) {
  unsigned shift = 62 - (cluster_bits - 8);
  uint64_t offset = entry & ((1ull << shift) - 1);
  uint64_t sectors = ((entry & ~(kOflagCopied | kOflagCompressed)) >> shift) + 1;
  return {offset, sectors * 512 - (offset & 511)};
}

}  // namespace tandem::qcow2
