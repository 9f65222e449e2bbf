#include "target/riscv/system/hart.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <string_view>

#include "accel/tcg/engine.h"
#include "target/riscv/decode.h"
#include "target/riscv/fp.h"
#include "target/riscv/interp.h"

namespace tandem::riscv {
namespace {

constexpr uint32_t kMret = 0x30200073, kSret = 0x10200073, kWfi = 0x10500073;

// TANDEM_TRACE_TRAPS=1 logs every trap to stderr (like QEMU's -d int).
bool trace_traps() {
  static const bool on = std::getenv("TANDEM_TRACE_TRAPS") != nullptr;
  return on;
}

// TANDEM_TRACE_MMIO=1 logs every emulated (MMIO or page-crossing) access.
bool trace_mmio() {
  static const bool on = std::getenv("TANDEM_TRACE_MMIO") != nullptr;
  return on;
}

const InsnHook& no_hook() {
  static const InsnHook hook;
  return hook;
}

}  // namespace

SystemHart::SystemHart(unsigned hartid, const GuestRam& ram, const IoBus& mmio, PrivEnv env,
                       tcg::CodePages* code_pages)
    : mem(ram, mmio, ps), env_(env) {
  env_.hartid = hartid;
  cpu.sys = &mem;
  cpu.hart = this;
  cpu.csr_helper = &SystemHart::csr_from_block;
  if (code_pages) {
    mem.set_code_pages(code_pages);
    cpu.guest_base = reinterpret_cast<uint8_t*>(mem.tlb());
    tcg::TcgOptions options;
    options.system = &mem;
    // Kernel code is big and every hart translates its own: 128 MiB each.
    options.code_size = size_t{128} << 20;
    // The cold tier: kernel code that runs fewer times than this is interpreted, not translated.
    // 16 measured best for a Debian boot to /init (0, 4, 8, 16, 32: CPU 3.19, 3.05, 2.87, 2.57,
    // 2.86 s, medians of 3). TANDEM_TRANSLATE_AFTER=N overrides it (0: translate everything).
    options.translate_after = kTranslateAfter;
    if (const char* e = std::getenv("TANDEM_TRANSLATE_AFTER")) {
      options.translate_after = static_cast<uint8_t>(std::clamp(std::atoi(e), 0, 255));
    }
    options.sample_translation_costs = std::getenv("TANDEM_HART_STATS") != nullptr;
    // Hot blocks are translated on a second thread while this one interprets them.
    // TANDEM_BACKGROUND_TRANSLATE=0 translates them here instead.
    const char* bg = std::getenv("TANDEM_BACKGROUND_TRANSLATE");
    options.background = !(bg && std::string_view(bg) == "0");
    engine_ = tcg::make_tcg_engine(mem, TraceOptions{}, options);
  }
}

SystemHart::~SystemHart() = default;

bool SystemHart::waiting() const {
  return wfi_ && (ps.mip(hw_pending()) & ps.mie) == 0;
}

void SystemHart::trap(uint64_t cause, uint64_t tval) {
  if (trace_traps()) {
    std::fprintf(stderr, "trap: hart %u cause %#llx tval %#llx pc %#llx priv %u\n", env_.hartid,
                 static_cast<unsigned long long>(cause), static_cast<unsigned long long>(tval),
                 static_cast<unsigned long long>(cpu.pc), static_cast<unsigned>(ps.priv));
  }
  cpu.pc = ps.take_trap(cause, tval, cpu.pc);
  ++traps_taken;
}

void SystemHart::run(uint64_t budget) {
  if (engine_) {
    run_translated(budget);
  } else {
    run_interpreted(budget);
  }
}

bool SystemHart::take_interrupts() {
  const uint64_t pending = hw_pending();
  if (auto irq = ps.pending_interrupt(pending)) {
    wfi_ = false;
    trap(kInterruptFlag | *irq, 0);
  }
  if (wfi_) {
    // WFI ends when an interrupt is pending and enabled in mie, whatever the global enables.
    if ((ps.mip(pending) & ps.mie) == 0) return false;
    wfi_ = false;
  }
  return true;
}

void SystemHart::run_interpreted(uint64_t max_insns) {
  uint64_t done = 0;
  while (done < max_insns) {
    if (!take_interrupts()) return;
    const InterpOptions options{.system_counters = true, .fp_disabled = !ps.fp_enabled()};
    const uint64_t before = cpu.instret;
    const ExitInfo exit = interpret(cpu, mem, max_insns - done, no_hook(), options);
    done += cpu.instret - before + 1;  // + 1: an exit that retired nothing still counts
    handle_exit(exit);
  }
}

void SystemHart::run_translated(uint64_t max_exits) {
  for (uint64_t n = 0; n < max_exits; ++n) {
    if (!take_interrupts()) return;
    const ExitInfo exit = engine_->run(cpu);
    ++exits[static_cast<unsigned>(exit.kind) & 15];
    if (exit.kind == ExitKind::kInterrupted) return;  // kicked: interrupts, turn over, stop
    if (exit.kind == ExitKind::kColdCode) {
      run_cold_block();
      continue;
    }
    handle_exit(exit);
  }
}

void SystemHart::run_cold_block() {
  const InterpOptions options{
      .system_counters = true, .fp_disabled = !ps.fp_enabled(), .one_block = true};
  handle_exit(interpret(cpu, mem, kColdBlockInsns, no_hook(), options));
}

void SystemHart::handle_exit(const ExitInfo& exit) {
  switch (exit.kind) {
    case ExitKind::kInterrupted:
    case ExitKind::kColdCode:
      return;
    case ExitKind::kFenceI:
      if (engine_) mem.code_pages().invalidate_device_written();
      return;
    case ExitKind::kEcall:
      trap(ps.priv == Priv::kU ? kEcallU : ps.priv == Priv::kS ? kEcallS : kEcallM, 0);
      return;
    case ExitKind::kEbreak:
      trap(kBreakpoint, cpu.pc);
      return;
    case ExitKind::kIllegalInstruction:
      handle_illegal(static_cast<uint32_t>(exit.info));
      return;
    case ExitKind::kFetchFault: {
      const MemFault& f = mem.last_fault();
      trap(fault_cause(f.kind == FaultKind::kPage ? FaultKind::kPage : FaultKind::kAccess,
                       Access::kExec),
           exit.info);
      return;
    }
    case ExitKind::kLoadFault:
    case ExitKind::kStoreFault: {
      const Access access = exit.kind == ExitKind::kLoadFault ? Access::kRead : Access::kWrite;
      const MemFault f = mem.last_fault();
      if (f.kind == FaultKind::kSlow) {
        emulate_access(f.kind, access, exit.info);
      } else {
        trap(fault_cause(f.kind, access), exit.info);
      }
      return;
    }
    case ExitKind::kMisaligned:
      trap(kStoreMisaligned, exit.info);
      return;
  }
}

// A load or store the TLB fast path could not serve (MMIO, or crossing a page): executed here,
// one device access of the instruction's width when it stays within a page.
void SystemHart::emulate_access(FaultKind, Access access, uint64_t addr) {
  uint32_t raw = 0;
  const uint8_t* lo = mem.translate(cpu.pc, 2, Access::kExec);
  if (!lo) return trap(fault_cause(mem.last_fault().kind, Access::kExec), cpu.pc);
  uint16_t half;
  std::memcpy(&half, lo, 2);
  raw = half;
  if (insn_length(half) == 4) {
    const uint8_t* hi = mem.translate(cpu.pc + 2, 2, Access::kExec);
    if (!hi) return trap(fault_cause(mem.last_fault().kind, Access::kExec), cpu.pc + 2);
    std::memcpy(&half, hi, 2);
    raw |= static_cast<uint32_t>(half) << 16;
  }
  const DecodedInsn d = decode(raw);
  unsigned size = 0;
  bool is_signed = false, is_fp = false, is_store = false;
  switch (d.op) {
    case Op::kLb:
      size = 1, is_signed = true;
      break;
    case Op::kLh:
      size = 2, is_signed = true;
      break;
    case Op::kLw:
      size = 4, is_signed = true;
      break;
    case Op::kLd:
      size = 8;
      break;
    case Op::kLbu:
      size = 1;
      break;
    case Op::kLhu:
      size = 2;
      break;
    case Op::kLwu:
      size = 4;
      break;
    case Op::kFlw:
      size = 4, is_fp = true;
      break;
    case Op::kFld:
      size = 8, is_fp = true;
      break;
    case Op::kSb:
      size = 1, is_store = true;
      break;
    case Op::kSh:
      size = 2, is_store = true;
      break;
    case Op::kSw:
      size = 4, is_store = true;
      break;
    case Op::kSd:
      size = 8, is_store = true;
      break;
    case Op::kFsw:
      size = 4, is_store = is_fp = true;
      break;
    case Op::kFsd:
      size = 8, is_store = is_fp = true;
      break;
    default:
      // Atomics on MMIO (or anything else): an access fault, as on hardware without AMO PMAs.
      return trap(access == Access::kRead ? kLoadAccessFault : kStoreAccessFault, addr);
  }
  const uint64_t vaddr = cpu.x[d.rs1] + static_cast<uint64_t>(d.imm);
  uint8_t buf[8] = {};
  if (is_store) {
    const uint64_t v = is_fp ? cpu.f[d.rs2] : cpu.x[d.rs2];
    std::memcpy(buf, &v, 8);
    const MemFault f = mem.access(vaddr, {buf, size}, Access::kWrite);
    if (f.kind != FaultKind::kNone) return trap(fault_cause(f.kind, Access::kWrite), vaddr);
  } else {
    const MemFault f = mem.access(vaddr, {buf, size}, Access::kRead);
    if (f.kind != FaultKind::kNone) return trap(fault_cause(f.kind, Access::kRead), vaddr);
    uint64_t v = 0;
    std::memcpy(&v, buf, 8);
    if (is_fp) {
      cpu.f[d.rd] = size == 4 ? fp::box32(static_cast<uint32_t>(v)) : v;
    } else {
      if (is_signed && size < 8) {
        const unsigned shift = 64 - 8 * size;
        v = static_cast<uint64_t>(static_cast<int64_t>(v << shift) >> shift);
      }
      if (d.rd != 0) cpu.x[d.rd] = v;
    }
  }
  if (trace_mmio()) {
    uint64_t v = 0;
    std::memcpy(&v, buf, 8);
    std::fprintf(stderr, "mmio: %s %#llx size %u value %#llx pc %#llx\n", is_store ? "W" : "R",
                 static_cast<unsigned long long>(vaddr), size, static_cast<unsigned long long>(v),
                 static_cast<unsigned long long>(cpu.pc));
  }
  cpu.pc += d.length;
  ++cpu.instret;
}

void SystemHart::handle_illegal(uint32_t raw) {
  if ((raw & 3) == 3 && exec_system(raw)) {
    ++csr_exits;
    return;
  }
  trap(kIllegalInsn, raw);
}

bool SystemHart::exec_system(uint32_t raw) {
  if ((raw & 0x7f) != 0x73) return false;
  const unsigned funct3 = (raw >> 12) & 7;
  const unsigned rd = (raw >> 7) & 31, rs1 = (raw >> 15) & 31;
  const bool tvm = ps.mstatus & mstatus_bits::kTvm;
  if (funct3 == 0) {
    if (raw == kMret) {
      if (ps.priv != Priv::kM) return false;
      const bool mprv = ps.mstatus & mstatus_bits::kMprv;
      cpu.pc = ps.mret();
      if (mprv) mem.flush_tlb();
    } else if (raw == kSret) {
      if (ps.priv == Priv::kU || (ps.priv == Priv::kS && (ps.mstatus & mstatus_bits::kTsr))) {
        return false;
      }
      const bool mprv = ps.mstatus & mstatus_bits::kMprv;
      cpu.pc = ps.sret();
      if (mprv) mem.flush_tlb();
    } else if (raw == kWfi) {
      if (ps.priv == Priv::kU || (ps.priv == Priv::kS && (ps.mstatus & mstatus_bits::kTw))) {
        return false;
      }
      cpu.pc += 4;
      wfi_ = true;
    } else if ((raw & 0xfe007fff) == 0x12000073) {  // sfence.vma
      if (ps.priv == Priv::kU || (ps.priv == Priv::kS && tvm)) return false;
      cpu.pc += 4;
      // No ASIDs (satp's ASID field is zero-width): the ASID operand changes nothing.
      if (rs1 != 0) {
        mem.flush_tlb_page(cpu.x[rs1]);
      } else {
        mem.flush_tlb();
      }
    } else {
      return false;
    }
    ++cpu.instret;
    return true;
  }
  if (funct3 == 4) return false;
  const uint64_t operand = funct3 >= 5 ? rs1 : cpu.x[rs1];
  const auto old = csr_op(raw, operand);
  if (!old) return false;
  if (rd != 0) cpu.x[rd] = *old;
  cpu.pc += 4;
  ++cpu.instret;
  return true;
}

std::optional<uint64_t> SystemHart::csr_op(uint32_t raw, uint64_t operand) {
  const unsigned funct3 = (raw >> 12) & 7, rs1 = (raw >> 15) & 31;
  const uint16_t csr = static_cast<uint16_t>(raw >> 20);
  const unsigned op = funct3 & 3;  // 1 rw, 2 rs, 3 rc
  const bool writes = op == 1 || rs1 != 0;
  if (!ps.csr_accessible(csr, writes)) return std::nullopt;
  const auto old = ps.read_csr(csr, hw_pending(), cpu.instret, env_);
  if (!old) return std::nullopt;
  if (writes) {
    // mip.SEIP reads as the OR of the software bit and the PLIC's line, but csrrs/csrrc modify
    // the software bit alone: otherwise OpenSBI's `csrs mip, STIP` would latch a pending
    // external interrupt into the software bit, where the kernel can never clear it.
    uint64_t base = *old;
    if (csr == 0x344) base = (base & ~kSei) | (ps.mip_soft & kSei);
    const uint64_t value = op == 1 ? operand : op == 2 ? (base | operand) : (base & ~operand);
    bool flush = false;
    if (!ps.write_csr(csr, value, cpu.instret, flush)) return std::nullopt;
    if (flush) mem.flush_tlb();
  }
  return old;
}

namespace {
// Counters that read or write the retired-instruction count, which generated code keeps in a
// register until the block exits: the hart runs those itself.
bool counts_instructions(uint16_t csr) {
  const uint16_t base = csr & ~0x80;                // the RV32 high halves alias the same counters
  if (base >= 0xb00 && base <= 0xb1f) return true;  // mcycle, minstret, mhpmcounter*
  return base >= 0xc00 && base <= 0xc1f && base != 0xc01;  // cycle, instret, hpmcounter*
}
}  // namespace

uint64_t SystemHart::csr_from_block(CpuState* env, uint64_t operand, uint64_t insn) {
  auto* hart = static_cast<SystemHart*>(env->hart);
  const auto raw = static_cast<uint32_t>(insn);
  if (counts_instructions(static_cast<uint16_t>(raw >> 20))) return kCsrHart;
  const uint32_t flags = hart->mem.tb_flags();
  const uint64_t tlb = hart->mem.tlb_generation();
  const auto old = hart->csr_op(raw, operand);
  if (!old) return kCsrHart;  // nothing was changed: the hart raises the trap
  ++hart->inline_csrs;
  env->csr_value = *old;
  // Blocks are specialised for the privilege and translation context, and interrupts are
  // taken between blocks: leave when either may have changed.
  if (hart->mem.tb_flags() != flags || hart->mem.tlb_generation() != tlb ||
      hart->ps.pending_interrupt(hart->hw_pending())) {
    return kCsrLeave;
  }
  return kCsrDone;
}

HartGroup::HartGroup(unsigned num_harts, const GuestRam& ram, const IoBus& mmio, PrivEnv env,
                     HartOptions options) {
  if (options.translator) code_pages_ = std::make_unique<tcg::CodePages>(ram);
  for (unsigned i = 0; i < num_harts; ++i) {
    harts_.push_back(std::make_unique<SystemHart>(i, ram, mmio, env, code_pages_.get()));
  }
  if (options.translator && num_harts > 1) kicker_ = std::thread([this] { kicker(); });
}

HartGroup::~HartGroup() {
  stop();
  if (kicker_.joinable()) kicker_.join();
  if (std::getenv("TANDEM_HART_STATS")) {
    static const char* const kNames[] = {"ecall",       "ebreak",      "illegal",    "load-fault",
                                         "store-fault", "fetch-fault", "misaligned", "interrupted",
                                         "fence.i",     "cold"};
    for (auto& h : harts_) {
      std::fprintf(stderr,
                   "hart %u: %llu traps, %llu system-instruction exits, %llu CSR accesses "
                   "in blocks, TLB flushes %llu full %llu page; exits:",
                   h->env_.hartid, static_cast<unsigned long long>(h->traps_taken),
                   static_cast<unsigned long long>(h->csr_exits),
                   static_cast<unsigned long long>(h->inline_csrs),
                   static_cast<unsigned long long>(h->mem.full_flushes),
                   static_cast<unsigned long long>(h->mem.page_flushes));
      for (unsigned k = 0; k < std::size(kNames); ++k) {
        if (h->exits[k]) {
          std::fprintf(stderr, " %s %llu", kNames[k], static_cast<unsigned long long>(h->exits[k]));
        }
      }
      if (auto* tcg = dynamic_cast<tcg::TcgEngine*>(h->engine_.get())) {
        const tcg::TcgStats& t = tcg->stats();
        std::fprintf(
            stderr,
            "; translations %llu chains %llu lookups %llu invalidations %llu "
            "flushes %llu remaps %llu",
            static_cast<unsigned long long>(t.translations),
            static_cast<unsigned long long>(t.chains), static_cast<unsigned long long>(t.lookups),
            static_cast<unsigned long long>(t.invalidations),
            static_cast<unsigned long long>(t.flushes), static_cast<unsigned long long>(t.remaps));
        if (t.background || t.background_dropped || t.background_to_hart) {
          std::fprintf(stderr, " (in the background %llu, dropped %llu, left to the hart %llu)",
                       static_cast<unsigned long long>(t.background),
                       static_cast<unsigned long long>(t.background_dropped),
                       static_cast<unsigned long long>(t.background_to_hart));
        }
        if (t.translations) {
          const double n = static_cast<double>(t.translations);
          std::fprintf(stderr,
                       "; %.1f insns, IR %.1f ops (%.1f after the passes) on %.1f temps per "
                       "block; cycles per block: frontend %.0f opt %.0f backend %.0f "
                       "bookkeeping %.0f",
                       static_cast<double>(t.guest_insns) / n, t.ir_ops_before / n,
                       t.ir_ops_after / n, t.ir_temps / n, t.cycles_frontend / n, t.cycles_opt / n,
                       t.cycles_backend / n, t.cycles_bookkeeping / n);
        }
        if (!t.samples.empty()) {
          // Percentiles, not means: a translation the host preempted counts once, not by its
          // length. The 10th percentile is close to what a translation costs with warm caches.
          auto percentile = [&](unsigned phase, unsigned pct) {
            std::vector<uint32_t> v;
            v.reserve(t.samples.size());
            for (const auto& s : t.samples) v.push_back(s[phase]);
            const size_t at = v.size() * pct / 100;
            std::nth_element(v.begin(), v.begin() + at, v.end());
            return v[at];
          };
          std::fprintf(stderr,
                       "; cycles p10/median/p90: frontend %u/%u/%u opt %u/%u/%u backend %u/%u/%u",
                       percentile(0, 10), percentile(0, 50), percentile(0, 90), percentile(1, 10),
                       percentile(1, 50), percentile(1, 90), percentile(2, 10), percentile(2, 50),
                       percentile(2, 90));
        }
      }
      std::fprintf(stderr, "\n");
    }
  }
}

void HartGroup::kicker() {
  std::unique_lock lock(mutex_);
  while (!stopped()) {
    kicker_wake_.wait_for(lock, kTimeSlice);
    if (stopped()) break;
    harts_[running_.load(std::memory_order_acquire)]->kick();
  }
}

void HartGroup::set_pending(unsigned hart, unsigned irq_bit, bool level) {
  if (hart >= harts_.size()) return;
  const bool raised = harts_[hart]->set_pending(irq_bit, level);
  // The hart on turn yields, so that the one interrupted gets its turn now.
  if (raised && harts_.size() > 1) harts_[running_.load(std::memory_order_acquire)]->kick();
  std::lock_guard lock(mutex_);
  wake_.notify_all();
}

void HartGroup::stop() {
  stop_.store(true, std::memory_order_release);
  for (auto& h : harts_) h->kick();
  std::lock_guard lock(mutex_);
  wake_.notify_all();
  kicker_wake_.notify_all();
}

void HartGroup::run() {
  while (!stopped()) {
    bool all_waiting = true;
    for (unsigned i = 0; i < harts_.size(); ++i) {
      auto& h = harts_[i];
      running_.store(i, std::memory_order_release);
      h->run(kSlice);
      if (!h->waiting()) all_waiting = false;
      if (stopped()) return;
    }
    if (all_waiting) {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, std::chrono::milliseconds(100), [&] {
        if (stopped()) return true;
        for (auto& h : harts_) {
          if (!h->waiting()) return true;
        }
        return false;
      });
    }
  }
}

}  // namespace tandem::riscv
