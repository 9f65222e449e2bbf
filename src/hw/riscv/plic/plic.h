// The SiFive PLIC as QEMU's virt machine has it: 95 level-triggered sources (1..95), 7 priority
// levels, two contexts per hart (2h: M-mode -> MEIP, 2h+1: S-mode -> SEIP).
//   0x000000 + 4*src          priority (3 bits)
//   0x001000 + 4*word         pending bits (read-only)
//   0x002000 + 0x80*ctx       enable bits, 32 sources a word
//   0x200000 + 0x1000*ctx     threshold; +4: claim (read) / complete (write)
// Gateways follow the PLIC specification: a source's request becomes pending when its line is
// high and it has no request in flight; pending stays set until claimed (even if the line drops);
// a claim hands out the highest-priority pending source enabled for the context (ties: lowest
// id) with a priority above the threshold, and clears its pending bit; a completion for a source
// enabled on that context ends the flight, and a line still high makes it pending again.
#pragma once

#include <array>
#include <bitset>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "hw/core/irq.h"
#include "hw/riscv/hart_irq.h"
#include "memory/io_bus.h"

namespace tandem::riscv {

struct PlicState {
  static constexpr unsigned kSources = 96;  // id 0 is "no interrupt"
  std::array<uint32_t, kSources> priority{};
  std::bitset<kSources> pending;
  std::bitset<kSources> in_flight;            // claimed, not yet completed
  std::bitset<kSources> level;                // the input lines
  std::vector<std::bitset<kSources>> enable;  // per context
  std::vector<uint32_t> threshold;            // per context
};

class Plic : public IoDevice, public std::enable_shared_from_this<Plic> {
 public:
  static constexpr unsigned kNumSources = PlicState::kSources;  // riscv,ndev = kNumSources - 1
  static constexpr uint32_t kMaxPriority = 7;
  static constexpr uint64_t kPriorityBase = 0x0;
  static constexpr uint64_t kPendingBase = 0x1000;
  static constexpr uint64_t kEnableBase = 0x2000;
  static constexpr uint64_t kEnableStride = 0x80;
  static constexpr uint64_t kContextBase = 0x200000;
  static constexpr uint64_t kContextStride = 0x1000;
  static constexpr unsigned kMaxHarts = 512;
  // The window QEMU's virt machine gives the PLIC, whatever the number of harts.
  static constexpr uint64_t kSize = kContextBase + kContextStride * 2 * kMaxHarts;

  // Create with std::make_shared (irq() hands out lines that keep the PLIC alive).
  // `sink` must outlive the device.
  Plic(unsigned num_harts, HartInterruptSink& sink);

  void io_read(uint64_t offset, std::span<uint8_t> data) override;
  void io_write(uint64_t offset, std::span<const uint8_t> data) override;

  // The input line of source 1..95, for a device's interrupt. Throws Error for other ids.
  std::shared_ptr<IrqLine> irq(unsigned source);
  void set_source_level(unsigned source, bool level);

  unsigned num_contexts() const { return 2 * num_harts_; }
  static unsigned context_hart(unsigned context) { return context / 2; }
  static unsigned context_mip_bit(unsigned context) { return context % 2 ? kMipSeip : kMipMeip; }

  PlicState save() const;
  // Throws Error if the state is for a different number of contexts.
  void restore(const PlicState& state);

 private:
  uint32_t read32_locked(uint64_t offset);
  void write32_locked(uint64_t offset, uint32_t value);
  uint32_t claim_locked(unsigned context);
  void complete_locked(unsigned context, uint32_t source);
  void update_locked();

  const unsigned num_harts_;
  HartInterruptSink& sink_;
  mutable std::mutex mutex_;
  PlicState s_;
  std::vector<bool> output_;  // per context: the level last given to the sink
};

}  // namespace tandem::riscv
