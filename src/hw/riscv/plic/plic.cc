#include "hw/riscv/plic/plic.h"

#include "base/error.h"
#include "base/log.h"

namespace tandem::riscv {

namespace {

class PlicSourceLine : public IrqLine {
 public:
  PlicSourceLine(std::shared_ptr<Plic> plic, unsigned source)
      : plic_(std::move(plic)), source_(source) {}
  void set_level(bool asserted) override { plic_->set_source_level(source_, asserted); }

 private:
  std::shared_ptr<Plic> plic_;
  unsigned source_;
};

constexpr unsigned kWords = Plic::kNumSources / 32;
static_assert(Plic::kNumSources % 32 == 0);

uint32_t word_of(const std::bitset<Plic::kNumSources>& bits, unsigned word) {
  uint32_t v = 0;
  for (unsigned i = 0; i < 32; ++i)
    if (bits[word * 32 + i]) v |= 1u << i;
  return v;
}

}  // namespace

Plic::Plic(unsigned num_harts, HartInterruptSink& sink) : num_harts_(num_harts), sink_(sink) {
  if (num_harts == 0 || num_harts > kMaxHarts) fail("PLIC: {} harts is out of range", num_harts);
  s_.enable.assign(num_contexts(), {});
  s_.threshold.assign(num_contexts(), 0);
  output_.assign(num_contexts(), false);
}

std::shared_ptr<IrqLine> Plic::irq(unsigned source) {
  if (source == 0 || source >= kNumSources)
    fail("PLIC: interrupt source {} is out of range 1..{}", source, kNumSources - 1);
  return std::make_shared<PlicSourceLine>(shared_from_this(), source);
}

void Plic::set_source_level(unsigned source, bool level) {
  if (source == 0 || source >= kNumSources) return;
  std::lock_guard lock(mutex_);
  s_.level[source] = level;
  if (level && !s_.in_flight[source]) s_.pending[source] = true;
  update_locked();
}

void Plic::io_read(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(mutex_);
  // The PLIC's registers are 32 bits; an 8-byte access covers two of them.
  if ((data.size() == 4 || data.size() == 8) && offset % 4 == 0) {
    for (size_t part = 0; part < data.size(); part += 4) {
      uint32_t v = read32_locked(offset + part);
      for (size_t i = 0; i < 4; ++i) data[part + i] = static_cast<uint8_t>(v >> (8 * i));
    }
    return;
  }
  TLOG_DEBUG("plic: ignored {}-byte read at {:#x}", data.size(), offset);
  std::fill(data.begin(), data.end(), 0);
}

void Plic::io_write(uint64_t offset, std::span<const uint8_t> data) {
  std::lock_guard lock(mutex_);
  if ((data.size() == 4 || data.size() == 8) && offset % 4 == 0) {
    for (size_t part = 0; part < data.size(); part += 4) {
      uint32_t v = 0;
      for (size_t i = 0; i < 4; ++i) v |= uint32_t{data[part + i]} << (8 * i);
      write32_locked(offset + part, v);
    }
    update_locked();
    return;
  }
  TLOG_DEBUG("plic: ignored {}-byte write at {:#x}", data.size(), offset);
}

uint32_t Plic::read32_locked(uint64_t offset) {
  if (offset < kPendingBase) {
    unsigned src = static_cast<unsigned>(offset / 4);
    return src < kNumSources ? s_.priority[src] : 0;
  }
  if (offset < kEnableBase) {
    uint64_t word = (offset - kPendingBase) / 4;
    return word < kWords ? word_of(s_.pending, static_cast<unsigned>(word)) : 0;
  }
  if (offset < kContextBase) {
    uint64_t ctx = (offset - kEnableBase) / kEnableStride;
    uint64_t word = (offset - kEnableBase) % kEnableStride / 4;
    if (ctx >= num_contexts() || word >= kWords) return 0;
    return word_of(s_.enable[ctx], static_cast<unsigned>(word));
  }
  uint64_t ctx = (offset - kContextBase) / kContextStride;
  uint64_t reg = (offset - kContextBase) % kContextStride;
  if (ctx >= num_contexts()) return 0;
  if (reg == 0) return s_.threshold[ctx];
  if (reg == 4) {
    uint32_t id = claim_locked(static_cast<unsigned>(ctx));
    update_locked();
    return id;
  }
  return 0;
}

void Plic::write32_locked(uint64_t offset, uint32_t value) {
  if (offset < kPendingBase) {
    unsigned src = static_cast<unsigned>(offset / 4);
    if (src != 0 && src < kNumSources) s_.priority[src] = value & kMaxPriority;
    return;
  }
  if (offset < kEnableBase) return;  // pending bits are read-only
  if (offset < kContextBase) {
    uint64_t ctx = (offset - kEnableBase) / kEnableStride;
    uint64_t word = (offset - kEnableBase) % kEnableStride / 4;
    if (ctx >= num_contexts() || word >= kWords) return;
    for (unsigned i = 0; i < 32; ++i) {
      unsigned src = static_cast<unsigned>(word) * 32 + i;
      s_.enable[ctx][src] = src != 0 && (value >> i & 1);  // source 0 does not exist
    }
    return;
  }
  uint64_t ctx = (offset - kContextBase) / kContextStride;
  uint64_t reg = (offset - kContextBase) % kContextStride;
  if (ctx >= num_contexts()) return;
  if (reg == 0) s_.threshold[ctx] = value & kMaxPriority;
  if (reg == 4) complete_locked(static_cast<unsigned>(ctx), value);
}

uint32_t Plic::claim_locked(unsigned context) {
  uint32_t best = 0;
  uint32_t best_priority = s_.threshold[context];
  for (unsigned src = 1; src < kNumSources; ++src) {
    if (s_.pending[src] && s_.enable[context][src] && s_.priority[src] > best_priority) {
      best = src;
      best_priority = s_.priority[src];
    }
  }
  if (best != 0) {
    s_.pending[best] = false;
    s_.in_flight[best] = true;
  }
  return best;
}

void Plic::complete_locked(unsigned context, uint32_t source) {
  // The specification ignores completions for sources not enabled on the context.
  if (source == 0 || source >= kNumSources || !s_.enable[context][source]) return;
  if (!s_.in_flight[source]) return;
  s_.in_flight[source] = false;
  if (s_.level[source]) s_.pending[source] = true;
}

void Plic::update_locked() {
  for (unsigned ctx = 0; ctx < num_contexts(); ++ctx) {
    bool level = false;
    for (unsigned src = 1; src < kNumSources && !level; ++src)
      level = s_.pending[src] && s_.enable[ctx][src] && s_.priority[src] > s_.threshold[ctx];
    if (level != output_[ctx]) {
      output_[ctx] = level;
      sink_.set_pending(context_hart(ctx), context_mip_bit(ctx), level);
    }
  }
}

PlicState Plic::save() const {
  std::lock_guard lock(mutex_);
  return s_;
}

void Plic::restore(const PlicState& state) {
  if (state.enable.size() != num_contexts() || state.threshold.size() != num_contexts())
    fail("PLIC: snapshot has {} contexts, this machine has {}", state.enable.size(),
         num_contexts());
  std::lock_guard lock(mutex_);
  s_ = state;
  for (auto& p : s_.priority) p &= kMaxPriority;
  s_.priority[0] = 0;
  for (auto& t : s_.threshold) t &= kMaxPriority;
  update_locked();
}

}  // namespace tandem::riscv
