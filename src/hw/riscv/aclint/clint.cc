#include "hw/riscv/aclint/clint.h"

#include <limits>

#include "base/error.h"
#include "base/log.h"

namespace tandem::riscv {

namespace {

uint64_t load_le(std::span<const uint8_t> data) {
  uint64_t v = 0;
  for (size_t i = 0; i < data.size() && i < 8; ++i) v |= uint64_t{data[i]} << (8 * i);
  return v;
}

void store_le(std::span<uint8_t> data, uint64_t v) {
  for (size_t i = 0; i < data.size(); ++i) data[i] = i < 8 ? static_cast<uint8_t>(v >> (8 * i)) : 0;
}

// Replaces the 4- or 8-byte part of `reg` at byte `shift` with `value`.
uint64_t deposit(uint64_t reg, unsigned byte_offset, unsigned size, uint64_t value) {
  if (size == 8) return value;
  unsigned shift = 8 * byte_offset;
  uint64_t mask = 0xffffffffull << shift;
  return (reg & ~mask) | ((value << shift) & mask);
}

}  // namespace

Clint::Clint(unsigned num_harts, HartInterruptSink& sink, const Clock& clock)
    : num_harts_(num_harts),
      sink_(sink),
      clock_(clock),
      msip_(num_harts, 0),
      // QEMU resets mtimecmp to 0; firmware (OpenSBI) sets it before enabling MTIE.
      mtimecmp_(num_harts, 0),
      mtip_(num_harts, false),
      base_ns_(clock.monotonic_ns()) {
  if (num_harts == 0 || num_harts > kMaxHarts) fail("CLINT: {} harts is out of range", num_harts);
  std::lock_guard lock(mutex_);
  update_locked();
}

Clint::~Clint() = default;

uint64_t Clint::mtime_locked() const {
  return mtime_base_ + (clock_.monotonic_ns() - base_ns_) / kNsPerTick;
}

void Clint::set_mtime_locked(uint64_t value) {
  base_ns_ = clock_.monotonic_ns();
  mtime_base_ = value;
}

uint64_t Clint::mtime() const {
  std::lock_guard lock(mutex_);
  return mtime_locked();
}

void Clint::io_read(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(mutex_);
  unsigned size = static_cast<unsigned>(data.size());
  uint64_t value = 0;
  if (size == 4 || size == 8) value = read_reg_locked(offset, size);
  store_le(data, value);
}

void Clint::io_write(uint64_t offset, std::span<const uint8_t> data) {
  std::lock_guard lock(mutex_);
  unsigned size = static_cast<unsigned>(data.size());
  if (size != 4 && size != 8) {
    TLOG_DEBUG("clint: ignored {}-byte write at {:#x}", size, offset);
    return;
  }
  write_reg_locked(offset, size, load_le(data));
}

uint64_t Clint::read_reg_locked(uint64_t offset, unsigned size) const {
  if (offset < kMtimecmpBase) {
    uint64_t hart = offset / 4;
    if (size != 4 || offset % 4 != 0 || hart >= num_harts_) return 0;
    return msip_[hart];
  }
  uint64_t reg_value;
  uint64_t reg_start;
  if (offset >= kMtimeOffset && offset < kMtimeOffset + 8) {
    reg_start = kMtimeOffset;
    reg_value = mtime_locked();
  } else if (offset < kMtimecmpBase + 8ull * num_harts_) {
    uint64_t hart = (offset - kMtimecmpBase) / 8;
    reg_start = kMtimecmpBase + 8 * hart;
    reg_value = mtimecmp_[hart];
  } else {
    return 0;
  }
  unsigned byte = static_cast<unsigned>(offset - reg_start);
  if (size == 8) return byte == 0 ? reg_value : 0;
  if (byte == 0) return reg_value & 0xffffffff;
  if (byte == 4) return reg_value >> 32;
  return 0;
}

void Clint::write_reg_locked(uint64_t offset, unsigned size, uint64_t value) {
  if (offset < kMtimecmpBase) {
    uint64_t hart = offset / 4;
    if (size != 4 || offset % 4 != 0 || hart >= num_harts_) return;
    uint32_t bit = value & 1;
    if (msip_[hart] != bit) {
      msip_[hart] = bit;
      sink_.set_pending(static_cast<unsigned>(hart), kMipMsip, bit != 0);
    }
    return;
  }
  bool is_mtime = offset >= kMtimeOffset && offset < kMtimeOffset + 8;
  uint64_t reg_start;
  if (is_mtime) {
    reg_start = kMtimeOffset;
  } else if (offset < kMtimecmpBase + 8ull * num_harts_) {
    reg_start = kMtimecmpBase + 8 * ((offset - kMtimecmpBase) / 8);
  } else {
    return;
  }
  unsigned byte = static_cast<unsigned>(offset - reg_start);
  if (!(byte == 0 || (size == 4 && byte == 4))) return;
  if (is_mtime) {
    set_mtime_locked(deposit(mtime_locked(), byte, size, value));
  } else {
    uint64_t& cmp = mtimecmp_[(reg_start - kMtimecmpBase) / 8];
    cmp = deposit(cmp, byte, size, value);
  }
  update_locked();
}

void Clint::update_locked() {
  uint64_t now = mtime_locked();
  for (unsigned h = 0; h < num_harts_; ++h) {
    bool level = now >= mtimecmp_[h];
    if (level != mtip_[h]) {
      mtip_[h] = level;
      sink_.set_pending(h, kMipMtip, level);
    }
  }
  rearm_locked();
}

void Clint::update_timers() {
  std::lock_guard lock(mutex_);
  update_locked();
}

std::optional<uint64_t> Clint::deadline_locked() const {
  uint64_t now_ns = clock_.monotonic_ns();
  uint64_t now = mtime_base_ + (now_ns - base_ns_) / kNsPerTick;
  std::optional<uint64_t> best;
  for (unsigned h = 0; h < num_harts_; ++h) {
    if (mtip_[h]) continue;
    uint64_t deadline;
    if (now >= mtimecmp_[h]) {
      deadline = now_ns;
    } else {
      // mtime reaches cmp when (t - base_ns_) / kNsPerTick >= cmp - mtime_base_.
      unsigned __int128 ns =
          static_cast<unsigned __int128>(mtimecmp_[h] - mtime_base_) * kNsPerTick + base_ns_;
      if (ns > std::numeric_limits<uint64_t>::max()) continue;  // centuries away: never
      deadline = static_cast<uint64_t>(ns);
    }
    if (!best || deadline < *best) best = deadline;
  }
  return best;
}

std::optional<uint64_t> Clint::next_deadline_ns() const {
  std::lock_guard lock(mutex_);
  return deadline_locked();
}

void Clint::rearm_locked() {
  if (!timer_) return;
  if (auto deadline = deadline_locked()) {
    timer_->arm_at(*deadline);
  } else {
    timer_->disarm();
  }
}

void Clint::attach_timer(EventLoop& loop) {
  std::weak_ptr<Clint> weak = weak_from_this();
  if (weak.expired()) fail("CLINT: attach_timer needs the device to be owned by a shared_ptr");
  auto timer = std::make_unique<HostTimer>(loop, CLOCK_MONOTONIC, [weak] {
    if (auto self = weak.lock()) self->update_timers();
  });
  std::lock_guard lock(mutex_);
  timer_ = std::move(timer);
  rearm_locked();
}

ClintState Clint::save() const {
  std::lock_guard lock(mutex_);
  return ClintState{msip_, mtimecmp_, mtime_locked()};
}

void Clint::restore(const ClintState& state) {
  if (state.msip.size() != num_harts_ || state.mtimecmp.size() != num_harts_)
    fail("CLINT: snapshot is for {} harts, this machine has {}", state.msip.size(), num_harts_);
  std::lock_guard lock(mutex_);
  set_mtime_locked(state.mtime);
  mtimecmp_ = state.mtimecmp;
  for (unsigned h = 0; h < num_harts_; ++h) {
    uint32_t bit = state.msip[h] & 1;
    if (bit != msip_[h]) {
      msip_[h] = bit;
      sink_.set_pending(h, kMipMsip, bit != 0);
    }
  }
  update_locked();
}

}  // namespace tandem::riscv
