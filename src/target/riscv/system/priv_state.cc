#include "target/riscv/system/priv_state.h"

namespace tandem::riscv {
namespace {

using namespace mstatus_bits;  // NOLINT

uint64_t with_sd(uint64_t mstatus) {
  // FS is the only dirty-tracked state; SD summarises it.
  return ((mstatus & kFs) == kFs) ? (mstatus | kSd) : (mstatus & ~kSd);
}

// CSR numbers.
enum : uint16_t {
  kFflags = 0x001,
  kFrm = 0x002,
  kFcsr = 0x003,
  kSstatus = 0x100,
  kCsrSie = 0x104,
  kStvec = 0x105,
  kScounteren = 0x106,
  kSenvcfg = 0x10a,
  kSscratch = 0x140,
  kSepc = 0x141,
  kScause = 0x142,
  kStval = 0x143,
  kSip = 0x144,
  kSatp = 0x180,
  kMstatus = 0x300,
  kCsrMisa = 0x301,
  kMedeleg = 0x302,
  kMideleg = 0x303,
  kCsrMie = 0x304,
  kMtvec = 0x305,
  kMcounteren = 0x306,
  kMenvcfg = 0x30a,
  kMcountinhibit = 0x320,
  kMscratch = 0x340,
  kMepc = 0x341,
  kMcause = 0x342,
  kMtval = 0x343,
  kMip = 0x344,
  kPmpcfg0 = 0x3a0,
  kPmpaddr0 = 0x3b0,
  kMcycle = 0xb00,
  kMinstret = 0xb02,
  kCycle = 0xc00,
  kTime = 0xc01,
  kInstret = 0xc02,
  kMvendorid = 0xf11,
  kMarchid = 0xf12,
  kMimpid = 0xf13,
  kMhartid = 0xf14,
  kMconfigptr = 0xf15,
};

bool known_csr(uint16_t csr) {
  switch (csr) {
    case kSstatus:
    case kCsrSie:
    case kStvec:
    case kScounteren:
    case kSenvcfg:
    case kSscratch:
    case kSepc:
    case kScause:
    case kStval:
    case kSip:
    case kSatp:
    case kMstatus:
    case kCsrMisa:
    case kMedeleg:
    case kMideleg:
    case kCsrMie:
    case kMtvec:
    case kMcounteren:
    case kMenvcfg:
    case kMcountinhibit:
    case kMscratch:
    case kMepc:
    case kMcause:
    case kMtval:
    case kMip:
    case kMcycle:
    case kMinstret:
    case kCycle:
    case kTime:
    case kInstret:
    case kMvendorid:
    case kMarchid:
    case kMimpid:
    case kMhartid:
    case kMconfigptr:
      return true;
    default:
      break;
  }
  if (csr >= kPmpcfg0 && csr < kPmpcfg0 + 16) return (csr & 1) == 0;  // RV64: even only
  return csr >= kPmpaddr0 && csr < kPmpaddr0 + 64;
}

// The address range [lo, hi) a PMP entry matches, if it is active.
bool pmp_range(const PmpState& pmp, unsigned i, uint64_t& lo, uint64_t& hi) {
  const unsigned a = (pmp.cfg[i] >> 3) & 3;
  const uint64_t addr = pmp.addr[i];
  switch (a) {
    case 1:  // TOR
      lo = i == 0 ? 0 : pmp.addr[i - 1] << 2;
      hi = addr << 2;
      return lo < hi;
    case 2:  // NA4
      lo = addr << 2;
      hi = lo + 4;
      return true;
    case 3: {  // NAPOT: trailing ones give the size
      const unsigned ones = static_cast<unsigned>(__builtin_ctzll(~addr));
      if (ones >= 54) {
        lo = 0;
        hi = ~0ull;
        return true;
      }
      const uint64_t size = 8ull << ones;
      lo = (addr << 2) & ~(size - 1);
      hi = lo + size;
      return true;
    }
    default:
      return false;
  }
}

bool pmp_perm(uint8_t cfg, Access access) {
  switch (access) {
    case Access::kRead:
      return cfg & 1;
    case Access::kWrite:
      return cfg & 2;
    case Access::kExec:
      return cfg & 4;
  }
  return false;
}

}  // namespace

bool PrivState::csr_accessible(uint16_t csr, bool write) const {
  if (!known_csr(csr)) return false;
  if (static_cast<unsigned>(priv) < ((csr >> 8) & 3u)) return false;
  if (write && (csr >> 10) == 3) return false;
  if (csr == kSatp && priv == Priv::kS && (mstatus & kTvm)) return false;
  if (csr >= kCycle && csr <= kInstret) {
    const uint32_t bit = 1u << (csr - kCycle);
    if (priv != Priv::kM && !(mcounteren & bit)) return false;
    if (priv == Priv::kU && !(scounteren & bit)) return false;
  }
  return true;
}

std::optional<uint64_t> PrivState::read_csr(uint16_t csr, uint64_t hw_pending, uint64_t instret,
                                            const PrivEnv& env) const {
  if (!csr_accessible(csr, false)) return std::nullopt;
  switch (csr) {
    case kSstatus:
      return with_sd(mstatus) & kSstatusMask;
    case kCsrSie:
      return mie & mideleg;
    case kStvec:
      return stvec;
    case kScounteren:
      return scounteren;
    case kSenvcfg:
      return senvcfg;
    case kSscratch:
      return sscratch;
    case kSepc:
      return sepc;
    case kScause:
      return scause;
    case kStval:
      return stval;
    case kSip:
      return mip(hw_pending) & mideleg;
    case kSatp:
      return satp;
    case kMstatus:
      return with_sd(mstatus);
    case kCsrMisa:
      return kMisa;
    case kMedeleg:
      return medeleg;
    case kMideleg:
      return mideleg;
    case kCsrMie:
      return mie;
    case kMtvec:
      return mtvec;
    case kMcounteren:
      return mcounteren;
    case kMenvcfg:
      return menvcfg;
    case kMcountinhibit:
      return mcountinhibit;
    case kMscratch:
      return mscratch;
    case kMepc:
      return mepc;
    case kMcause:
      return mcause;
    case kMtval:
      return mtval;
    case kMip:
      return mip(hw_pending);
    case kMcycle:
    case kMinstret:
    case kCycle:
    case kInstret:
      return instret + mcycle_offset;
    case kTime:
      return env.read_time ? env.read_time(env.time_ctx) : 0;
    case kMvendorid:
    case kMarchid:
    case kMimpid:
    case kMconfigptr:
      return 0;
    case kMhartid:
      return env.hartid;
    default:
      break;
  }
  if (csr >= kPmpcfg0 && csr < kPmpcfg0 + 16) {
    const unsigned first = (csr - kPmpcfg0) * 4;  // pmpcfg0: entries 0..7, pmpcfg2: 8..15
    uint64_t v = 0;
    for (unsigned i = 0; i < 8; ++i) {
      if (first + i < PmpState::kEntries) v |= uint64_t{pmp.cfg[first + i]} << (8 * i);
    }
    return v;
  }
  const unsigned i = csr - kPmpaddr0;
  return i < PmpState::kEntries ? pmp.addr[i] : 0;
}

bool PrivState::write_csr(uint16_t csr, uint64_t value, uint64_t& instret, bool& flush) {
  if (!csr_accessible(csr, true)) return false;
  auto set_status = [&](uint64_t mask, uint64_t v) {
    uint64_t next = (mstatus & ~mask) | (v & mask);
    if (((next & kMpp) >> kMppShift) == 2) next &= ~kMpp;  // reserved MPP -> U
    // Dirty tracking is conservative (the spec permits it): any enabled FP state is Dirty,
    // so kernels always save it.
    if (next & kFs) next |= kFs;
    // What the TLB contexts do not capture (SUM is part of the context).
    const uint64_t changed = next ^ mstatus;
    if ((changed & (kMprv | kMxr)) || ((changed & kMpp) && (next & kMprv))) flush = true;
    mstatus = next;
  };
  switch (csr) {
    case kSstatus:
      set_status(kSstatusMask & kWritable, value);
      return true;
    case kCsrSie:
      mie = (mie & ~mideleg) | (value & mideleg);
      return true;
    case kStvec:
      stvec = value & ~2ull;
      return true;  // modes 0 and 1
    case kScounteren:
      scounteren = static_cast<uint32_t>(value & 7);
      return true;
    case kSenvcfg:
      senvcfg = 0;
      return true;  // no FIOM/CBIE/CBCFE/CBZE implemented
    case kSscratch:
      sscratch = value;
      return true;
    case kSepc:
      sepc = value & ~1ull;
      return true;
    case kScause:
      scause = value;
      return true;
    case kStval:
      stval = value;
      return true;
    case kSip: {
      const uint64_t m = kSsi & mideleg;
      mip_soft = (mip_soft & ~m) | (value & m);
      return true;
    }
    case kSatp: {
      const uint64_t mode = value >> 60;
      if (mode != kSatpBare && mode != kSatpSv39 && mode != kSatpSv48) return true;  // WARL
      satp = mode == kSatpBare ? 0 : (value & ((0xfull << 60) | ((1ull << 44) - 1)));
      flush = true;
      return true;
    }
    case kMstatus:
      set_status(kWritable, value);
      return true;
    case kCsrMisa:
      return true;  // fixed
    case kMedeleg:
      medeleg = value & kDelegableExceptions;
      return true;
    case kMideleg:
      mideleg = value & kSInterrupts;
      return true;
    case kCsrMie:
      mie = value & kAllInterrupts;
      return true;
    case kMtvec:
      mtvec = value & ~2ull;
      return true;
    case kMcounteren:
      mcounteren = static_cast<uint32_t>(value & 7);
      return true;
    case kMenvcfg:
      menvcfg = 0;
      return true;
    case kMcountinhibit:
      mcountinhibit = static_cast<uint32_t>(value & 5);
      return true;
    case kMscratch:
      mscratch = value;
      return true;
    case kMepc:
      mepc = value & ~1ull;
      return true;
    case kMcause:
      mcause = value;
      return true;
    case kMtval:
      mtval = value;
      return true;
    case kMip: {
      const uint64_t m = kSsi | kSti | kSei;
      mip_soft = (mip_soft & ~m) | (value & m);
      return true;
    }
    case kMcycle:
    case kMinstret:
      mcycle_offset = value - instret;
      return true;
    default:
      break;
  }
  if (csr >= kPmpcfg0 && csr < kPmpcfg0 + 16) {
    const unsigned first = (csr - kPmpcfg0) * 4;
    for (unsigned i = 0; i < 8; ++i) {
      const unsigned e = first + i;
      if (e >= PmpState::kEntries || (pmp.cfg[e] & 0x80)) continue;  // locked
      uint8_t c = static_cast<uint8_t>(value >> (8 * i)) & 0x9f;
      if ((c & 3) == 2) c &= ~3;  // W without R is reserved
      pmp.cfg[e] = c;
    }
    flush = true;
    return true;
  }
  const unsigned i = csr - kPmpaddr0;
  if (i >= PmpState::kEntries) return true;
  const bool locked =
      (pmp.cfg[i] & 0x80) ||
      (i + 1 < PmpState::kEntries && (pmp.cfg[i + 1] & 0x80) && ((pmp.cfg[i + 1] >> 3) & 3) == 1);
  if (!locked) pmp.addr[i] = value & ((1ull << 54) - 1);
  flush = true;
  return true;
}

std::optional<unsigned> PrivState::pending_interrupt(uint64_t hw_pending) const {
  const uint64_t pending = mip(hw_pending) & mie;
  if (!pending) return std::nullopt;
  const bool m_enabled = priv != Priv::kM || (mstatus & kMie);
  const bool s_enabled = priv == Priv::kU || (priv == Priv::kS && (mstatus & kSie));
  uint64_t take = 0;
  if (m_enabled) take |= pending & ~mideleg;
  if (!take && s_enabled && priv != Priv::kM) take |= pending & mideleg;
  if (!take) return std::nullopt;
  static constexpr unsigned kOrder[] = {11, 3, 7, 9, 1, 5};  // MEI MSI MTI SEI SSI STI
  for (unsigned bit : kOrder) {
    if (take & (1ull << bit)) return bit;
  }
  return std::nullopt;
}

uint64_t PrivState::take_trap(uint64_t cause, uint64_t tval, uint64_t pc) {
  const bool interrupt = cause & kInterruptFlag;
  const unsigned code = static_cast<unsigned>(cause & 63);
  const uint64_t deleg = interrupt ? mideleg : medeleg;
  const uint64_t old_priv = static_cast<uint64_t>(priv);
  if (priv != Priv::kM && ((deleg >> code) & 1)) {
    scause = cause;
    sepc = pc;
    stval = tval;
    uint64_t s = mstatus & ~(kSpp | kSpie | kSie);
    if (mstatus & kSie) s |= kSpie;
    if (old_priv == 1) s |= kSpp;
    mstatus = s;
    priv = Priv::kS;
    const uint64_t base = stvec & ~3ull;
    return (interrupt && (stvec & 1)) ? base + 4 * code : base;
  }
  mcause = cause;
  mepc = pc;
  mtval = tval;
  uint64_t s = mstatus & ~(kMpp | kMpie | kMie);
  if (mstatus & kMie) s |= kMpie;
  s |= old_priv << kMppShift;
  mstatus = s;
  priv = Priv::kM;
  const uint64_t base = mtvec & ~3ull;
  return (interrupt && (mtvec & 1)) ? base + 4 * code : base;
}

uint64_t PrivState::mret() {
  const auto mpp = static_cast<Priv>((mstatus & kMpp) >> kMppShift);
  uint64_t s = mstatus & ~(kMie | kMpp);
  if (mstatus & kMpie) s |= kMie;
  s |= kMpie;
  if (mpp != Priv::kM) s &= ~kMprv;
  mstatus = s;
  priv = mpp;
  return mepc;
}

uint64_t PrivState::sret() {
  const Priv spp = (mstatus & kSpp) ? Priv::kS : Priv::kU;
  uint64_t s = mstatus & ~(kSie | kSpp | kMprv);
  if (mstatus & kSpie) s |= kSie;
  s |= kSpie;
  mstatus = s;
  priv = spp;
  return sepc;
}

const PrivState::PmpDecoded& PrivState::pmp_decoded() const {
  PmpDecoded& d = pmp_decoded_;
  if (d.valid && d.from.cfg == pmp.cfg && d.from.addr == pmp.addr) return d;
  d.from = pmp;
  d.count = 0;
  for (unsigned i = 0; i < PmpState::kEntries; ++i) {
    uint64_t lo, hi;
    if (pmp_range(pmp, i, lo, hi)) d.ranges[d.count++] = {lo, hi, pmp.cfg[i]};
  }
  d.valid = true;
  return d;
}

bool PrivState::pmp_allows(uint64_t addr, uint64_t len, Access access, Priv p) const {
  const uint64_t last = addr + len - 1;
  const PmpDecoded& d = pmp_decoded();
  for (unsigned i = 0; i < d.count; ++i) {
    const uint64_t lo = d.ranges[i].lo, hi = d.ranges[i].hi;
    const bool first_in = addr >= lo && addr - lo < hi - lo;
    const bool last_in = last >= lo && last - lo < hi - lo;
    if (!first_in && !last_in && !(addr < lo && last >= hi - 1)) continue;
    if (!first_in || !last_in) return false;  // partial match fails
    if (p == Priv::kM && !(d.ranges[i].cfg & 0x80)) return true;
    return pmp_perm(d.ranges[i].cfg, access);
  }
  return p == Priv::kM;  // no match: only M succeeds (entries are implemented)
}

bool PrivState::pmp_page_uniform(uint64_t page, Access access, Priv p) const {
  // The page is uniform when the first entry touching it covers it entirely (or none touches).
  const uint64_t last = page + 4095;
  const PmpDecoded& d = pmp_decoded();
  for (unsigned i = 0; i < d.count; ++i) {
    const uint64_t lo = d.ranges[i].lo, hi = d.ranges[i].hi;
    const bool overlaps = lo <= last && hi - 1 >= page;
    if (!overlaps) continue;
    return lo <= page && hi - 1 >= last;
  }
  (void)access;
  (void)p;
  return true;
}

}  // namespace tandem::riscv
