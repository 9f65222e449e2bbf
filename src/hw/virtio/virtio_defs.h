// Numbers from the virtio 1.2 specification shared by the transport, the queues and the devices.
// Everything virtio puts in guest memory or registers is little-endian; so is every host Tandem
// runs on (x86-64), which the static_assert below pins down.
#pragma once

#include <bit>
#include <cstdint>

namespace tandem::virtio {

static_assert(std::endian::native == std::endian::little, "virtio rings are little-endian");

// Device status bits (section 2.1).
inline constexpr uint32_t kStatusAcknowledge = 1;
inline constexpr uint32_t kStatusDriver = 2;
inline constexpr uint32_t kStatusDriverOk = 4;
inline constexpr uint32_t kStatusFeaturesOk = 8;
inline constexpr uint32_t kStatusNeedsReset = 64;
inline constexpr uint32_t kStatusFailed = 128;

// Device-independent feature bits (section 6) and ring features (section 2.7).
inline constexpr unsigned kFeatureIndirectDesc = 28;
inline constexpr unsigned kFeatureEventIdx = 29;
inline constexpr unsigned kFeatureVersion1 = 32;

inline constexpr uint64_t feature_bit(unsigned bit) {
  return uint64_t{1} << bit;
}

// Device IDs (section 5).
inline constexpr uint32_t kDeviceIdNet = 1;
inline constexpr uint32_t kDeviceIdBlock = 2;
inline constexpr uint32_t kDeviceIdConsole = 3;
inline constexpr uint32_t kDeviceIdEntropy = 4;

// Split virtqueue layout (section 2.7).
inline constexpr uint16_t kDescFlagNext = 1;
inline constexpr uint16_t kDescFlagWrite = 2;
inline constexpr uint16_t kDescFlagIndirect = 4;
inline constexpr uint16_t kAvailFlagNoInterrupt = 1;
inline constexpr uint16_t kUsedFlagNoNotify = 1;
inline constexpr uint32_t kMaxQueueSize = 32768;
inline constexpr uint64_t kDescAlign = 16;
inline constexpr uint64_t kAvailAlign = 2;
inline constexpr uint64_t kUsedAlign = 4;

struct VirtqDesc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t next;
};
static_assert(sizeof(VirtqDesc) == 16);

struct VirtqUsedElem {
  uint32_t id;
  uint32_t len;
};
static_assert(sizeof(VirtqUsedElem) == 8);

// Interrupt status bits of the MMIO transport (section 4.2.2).
inline constexpr uint32_t kInterruptUsedBuffer = 1;
inline constexpr uint32_t kInterruptConfigChange = 2;

}  // namespace tandem::virtio
