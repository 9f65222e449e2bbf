#include "accel/tcg/engine.h"

#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <x86intrin.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "base/error.h"
#include "target/riscv/translate.h"

namespace tandem::riscv::translate_detail {
uint32_t fflags_from_mxcsr(uint32_t mxcsr);
}

namespace tandem::tcg {

using riscv::CpuState;
using riscv::ExitInfo;
using riscv::ExitKind;

namespace {

constexpr uint64_t kPage = 4096;

// The engine whose generated code may be running on this thread (user mode has one).
thread_local TcgEngine* t_active = nullptr;
TcgEngine* g_any_engine = nullptr;  // for faults in host code touching protected pages
struct sigaction g_old_segv, g_old_bus;
bool g_handler_installed = false;

void fault_handler(int sig, siginfo_t* info, void* uc) {
  if (TcgEngine::handle_host_fault(sig, info, uc)) return;
  // Not ours: fall back to what was there before (default: die with the signal).
  struct sigaction& old = sig == SIGBUS ? g_old_bus : g_old_segv;
  if (old.sa_flags & SA_SIGINFO) {
    if (old.sa_sigaction) {
      old.sa_sigaction(sig, info, uc);
      return;
    }
  } else if (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN) {
    old.sa_handler(sig);
    return;
  }
  signal(sig, SIG_DFL);  // returning re-executes the access and dies of it
}

void install_fault_handler() {
  if (g_handler_installed) return;
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = fault_handler;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &g_old_segv);
  sigaction(SIGBUS, &sa, &g_old_bus);
  g_handler_installed = true;
}

}  // namespace

TcgEngine::TcgEngine(riscv::GuestMemory& mem, const riscv::TraceOptions& trace,
                     const TcgOptions& opts)
    : mem_(mem), trace_(trace), opts_(opts), buffer_(opts.code_size, opts.pin_globals) {
  opts_.opt.pinned = buffer_.pinned();
  sys_ = opts_.system;
  if (sys_) {
    opts_.smc_protect = false;  // CodePages catches stores into code
    sys_->code_pages().add_listener([this](uint64_t page) { invalidate_phys_page(page); });
    tlb_generation_ = sys_->tlb_generation();
  }
  sampling_ = opts_.pin_globals && opts_.pin_samples > 0 && opts_.pin_sample_period > 0;
  buffer_.runtime()->sample_countdown = opts_.pin_sample_period;
  if (trace_.exec || trace_.cpu) {
    // Every TB must come back to the dispatcher to be logged.
    opts_.chain = false;
    opts_.jump_cache = false;
  }
  // The background thread reads code through the hart's MMU mappings taken when it queues a
  // block (full-system only), works while the cold tier interprets, and does not trace.
  if (!sys_ || opts_.translate_after == 0 || trace_.in_asm || opts_.trace_op ||
      opts_.trace_op_opt || opts_.trace_out_asm) {
    opts_.background = false;
  }
  perf_map_ = PerfMap::from_environment();
  install_fault_handler();
  g_any_engine = this;
}

TcgEngine::~TcgEngine() {
  stop_background();
  for (uint64_t page : std::set<uint64_t>(protected_pages_)) unprotect_page(page);
  if (g_any_engine == this) g_any_engine = nullptr;
}

Tb* TcgEngine::find(uint64_t pc, uint32_t frm) {
  Tb*& f = fast_[jump_cache_index(pc)];
  if (f && f->pc == pc && f->frm == frm && f->flags == flags_) return f;
  uint64_t phys = pc;
  // A fetch fault: translate() reports it.
  if (sys_ && !sys_->code_phys(pc, &phys)) return nullptr;
  Tb* tb = map_.find({pc, phys, frm, flags_});
  if (!tb) return nullptr;
  if (tb->phys2 != Tb::kNoPhys2) {
    uint64_t phys2 = 0;
    const uint64_t page2 = (pc & ~(kPage - 1)) + kPage;
    if (!sys_->code_phys(page2, &phys2) || phys2 != tb->phys2) return nullptr;
    return tb;
  }
  f = tb;
  note_cached(pc);
  return f;
}

// Full-system: the hart's privilege, translation context or FP state may have changed since
// the last run (traps, xRET, CSR writes), and so may the page tables (a TLB flush).
void TcgEngine::check_system_state() {
  flags_ = sys_->tb_flags();
  const uint64_t generation = sys_->tlb_generation();
  if (generation != tlb_generation_) {
    // Virtual pc -> block caches follow the old mappings. (Flags are part of their keys.)
    tlb_generation_ = generation;
    std::fill(std::begin(fast_), std::end(fast_), nullptr);
    buffer_.clear_jump_cache();
    cached_vpages_.clear();
  } else {
    for (uint64_t page : sys_->flushed_pages()) {
      if (cached_vpages_.erase(page)) drop_virtual_page(page);
    }
  }
  sys_->clear_flushed_pages();
}

void TcgEngine::drop_virtual_page(uint64_t page) {
  for (Tb*& f : fast_) {
    if (f && (f->pc & ~(kPage - 1)) == page) f = nullptr;
  }
  // Jump-cache keys carry the block flags in bits 56..62 (jump_cache_key).
  const uint64_t mask = ~((uint64_t{0x7f} << 56) | (kPage - 1));
  for (JumpCacheEntry& e : buffer_.runtime()->jump_cache) {
    if (e.pc != kInvalidPc && (e.pc & mask) == (page & mask)) e = {kInvalidPc, nullptr};
  }
}

void TcgEngine::invalidate_phys_page(uint64_t page) {
  // Background translations of this page queued before now read code that is gone.
  if (opts_.background) page_invalidated_at_[page] = ++invalidations_;
  auto it = pages_.find(page);
  if (it == pages_.end()) return;
  std::vector<Tb*> tbs = std::move(it->second);
  pages_.erase(it);
  for (Tb* tb : tbs) invalidate_tb(tb);
}

void TcgEngine::flush() {
  // A background translation in progress finishes first; its result, and those of every job
  // queued before, are then void (flush_epoch_).
  std::lock_guard lock(code_mutex_);
  ++flush_epoch_;
  for (uint64_t page : std::set<uint64_t>(protected_pages_)) unprotect_page(page);
  tbs_.clear();
  background_tbs_.clear();
  map_.clear();
  pages_.clear();
  std::fill(std::begin(fast_), std::end(fast_), nullptr);
  buffer_.reset();
  cached_vpages_.clear();
  flush_pending_ = false;
  ++stats_.flushes;
}

bool TcgEngine::still_cold(uint64_t pc, uint32_t frm) {
  if (opts_.translate_after == 0) return false;
  uint64_t phys = pc;
  if (sys_ && !sys_->code_phys(pc, &phys)) return false;  // translate() reports the fault
  if (!visits_) visits_ = std::make_unique<uint8_t[]>(size_t{1} << kVisitBits);
  const uint64_t key = phys ^ (uint64_t{flags_} << 48);
  uint8_t& seen = visits_[(key * 0x9e3779b97f4a7c15ull) >> (64 - kVisitBits)];
  if (seen < opts_.translate_after) {
    ++seen;
    return true;
  }
  return opts_.background && queue_background(pc, phys, frm);
}

Tb* TcgEngine::translate(uint64_t pc, uint32_t frm, ExitInfo* fault) {
  riscv::TranslateParams params;
  params.pc = pc;
  params.frm = frm;
  params.flags = flags_;
  uint64_t phys = pc;
  if (sys_ && !sys_->code_phys(pc, &phys)) {
    *fault = {ExitKind::kFetchFault, pc};
    return nullptr;
  }
  params.host = &opts_.features;
  params.want_listing = trace_.in_asm;
  if (sys_ && cpu_) params.csr_helper = cpu_->csr_helper;
  unsigned max_insns = opts_.max_insns;
  for (int attempt = 0;; ++attempt) {
    params.max_insns = max_insns;
    riscv::TranslateResult res;
    GenCost cost;
    Tb& tb = tbs_.emplace_back();
    tb.pc = pc;
    tb.phys = phys;
    tb.frm = frm;
    tb.flags = flags_;
    GenResult r;
    {
      std::lock_guard lock(code_mutex_);
      r = generate(ir_, backend_, mem_, params, tb, res, cost, sampling_, /*on_hart=*/true,
                   /*trace=*/attempt == 0);
    }
    if (r == GenResult::kOk) {
      register_tb(&tb, cost);
      return &tb;
    }
    tbs_.pop_back();
    switch (r) {
      case GenResult::kFetchFault:
      case GenResult::kStraddles:  // not from the hart's thread
        *fault = {ExitKind::kFetchFault, res.fault_addr};
        return nullptr;
      case GenResult::kTooBig:
        if (max_insns <= 1) fail("translator: cannot generate code at pc 0x{:x}", pc);
        max_insns = std::max(1u, max_insns / 2);
        break;
      case GenResult::kBufferFull:
        if (attempt >= 2) fail("translator: code buffer too small at pc 0x{:x}", pc);
        // The code buffer is full: start over (we are in the dispatcher, nothing runs).
        flush();
        break;
      case GenResult::kOk:
        break;
    }
  }
}

TcgEngine::GenResult TcgEngine::generate(Ir& ir, X86Backend& backend, riscv::GuestMemory& mem,
                                         const riscv::TranslateParams& params, Tb& tb,
                                         riscv::TranslateResult& res, GenCost& cost, bool sample,
                                         bool on_hart, bool trace) {
  const uint64_t pc = params.pc;
  const uint64_t t0 = __rdtsc();
  riscv::translate_block(params, mem, ir, &res);
  const uint64_t t1 = __rdtsc();
  cost.frontend = t1 - t0;
  if (res.fetch_fault) return GenResult::kFetchFault;
  tb.phys2 = Tb::kNoPhys2;
  if (res.straddles) {
    if (!on_hart) return GenResult::kStraddles;
    const uint64_t page2 = (pc & ~(kPage - 1)) + kPage;
    if (!sys_->code_phys(page2, &tb.phys2)) {
      res.fault_addr = page2;
      return GenResult::kFetchFault;
    }
  }
  std::fill(std::begin(tb.reg_uses), std::end(tb.reg_uses), 0);
  if (sample) {
    for (const Op& op : ir.ops) {
      if (op.opc != Opc::kLdGlobal && op.opc != Opc::kStGlobal) continue;
      const int64_t rel = op.imm - static_cast<int64_t>(offsetof(CpuState, x));
      if (rel >= 0 && rel < 8 * 32 && rel % 8 == 0 && tb.reg_uses[rel / 8] < 255)
        ++tb.reg_uses[rel / 8];
    }
  }
  if (trace && trace_.in_asm) fmt::print(trace_.log, "IN: \n{}\n", res.listing);
  if (trace && opts_.trace_op) fmt::print(trace_.log, "OP:\n{}\n", ir.dump());
  const uint64_t t2 = __rdtsc();
  cost.ops_before = ir.ops.size();
  cost.temps = ir.temps.size();
  optimize(ir, opts_.opt);
  cost.ops_after = ir.ops.size();
  const uint64_t t3 = __rdtsc();
  cost.opt = t3 - t2;
  if (trace && opts_.trace_op_opt) {
    fmt::print(trace_.log, "OP after optimization:\n{}\n", ir.dump());
  }
  tb.end = res.end;
  tb.code = buffer_.cur();
  BackendContext ctx{.features = &opts_.features,
                     .buffer = &buffer_,
                     .tb_pc = pc,
                     .tb_cookie = reinterpret_cast<uintptr_t>(&tb),
                     .count_instret = opts_.count_instret,
                     .sample = sample,
                     .softmmu = sys_ ? &sys_->helpers() : nullptr,
                     .tb_flags = params.flags,
                     .direct_guest_memory = !sys_ && cpu_ && !cpu_->guest_base};
  try {
    tb.size =
        static_cast<uint32_t>(backend.generate(ir, ctx, tb.code, buffer_.remaining(), &tb.info));
  } catch (const BackendOverflow& e) {
    if (std::string_view(e.what()).find("spill") != std::string_view::npos ||
        std::string_view(e.what()).find("register") != std::string_view::npos) {
      return GenResult::kTooBig;
    }
    return GenResult::kBufferFull;
  }
  buffer_.commit(tb.size);
  cost.backend = __rdtsc() - t3;
  cost.insns = res.insns;
  if (perf_map_) perf_map_->add(tb.code, tb.size, pc, tb.phys);
  if (on_hart && opts_.trace_out_asm) {
    fmt::print(trace_.log, "OUT: [size={}]\n{}\n", tb.size, disassemble_host(tb.code, tb.size));
  }
  return GenResult::kOk;
}

void TcgEngine::register_tb(Tb* p, const GenCost& cost) {
  const uint64_t t0 = __rdtsc();
  map_.insert(p);
  if (p->phys2 == Tb::kNoPhys2) {
    fast_[jump_cache_index(p->pc)] = p;
    note_cached(p->pc);
  }
  if (sys_) {
    // A full-system TB lies within one page, or two for a straddling one (translate.h).
    pages_[p->phys & ~(kPage - 1)].push_back(p);
    sys_->code_pages().add(p->phys);
    if (p->phys2 != Tb::kNoPhys2) {
      pages_[p->phys2 & ~(kPage - 1)].push_back(p);
      sys_->code_pages().add(p->phys2);
    }
  } else {
    for (uint64_t page = p->pc & ~(kPage - 1); page < p->end; page += kPage)
      pages_[page].push_back(p);
  }
  ++stats_.translations;
  stats_.guest_insns += cost.insns;
  stats_.ir_ops_before += cost.ops_before;
  stats_.ir_ops_after += cost.ops_after;
  stats_.ir_temps += cost.temps;
  stats_.cycles_frontend += cost.frontend;
  stats_.cycles_opt += cost.opt;
  stats_.cycles_backend += cost.backend;
  if (opts_.smc_protect) protect_pages(*p);
  stats_.cycles_bookkeeping += __rdtsc() - t0;
  if (opts_.sample_translation_costs && stats_.samples.size() < TcgStats::kMaxSamples) {
    auto clamp = [](uint64_t c) { return static_cast<uint32_t>(std::min<uint64_t>(c, ~0u)); };
    stats_.samples.push_back({clamp(cost.frontend), clamp(cost.opt), clamp(cost.backend)});
  }
}

void TcgEngine::patch_jump(Tb* from, unsigned slot, const uint8_t* dest) {
  uint8_t* jmp = from->code + from->info.jmp_offset[slot];
  int32_t rel = static_cast<int32_t>(dest - (jmp + 5));
  __atomic_store_n(reinterpret_cast<int32_t*>(jmp + 1), rel, __ATOMIC_RELEASE);
}

void TcgEngine::link(Tb* from, unsigned slot, Tb* to) {
  if (!from->valid || !to->valid || from->info.jmp_offset[slot] == ~0u) return;
  // Full-system: only within a page, whose mapping the source block was found through, and
  // never to a block whose second page must be checked on entry.
  if (sys_ && ((from->pc >> 12) != (to->pc >> 12) || to->phys2 != Tb::kNoPhys2)) return;
  if (from->chained[slot] == to) return;
  patch_jump(from, slot, to->code);
  from->chained[slot] = to;
  to->incoming.push_back({from, static_cast<uint8_t>(slot)});
  ++stats_.chains;
}

void TcgEngine::invalidate_tb(Tb* tb) {
  if (!tb->valid) return;
  tb->valid = false;
  ++stats_.invalidations;
  map_.erase(tb);
  Tb*& f = fast_[jump_cache_index(tb->pc)];
  if (f == tb) f = nullptr;
  JumpCacheEntry& jc = buffer_.runtime()->jump_cache[jump_cache_index(tb->pc)];
  if (jc.code == tb->code) jc = {kInvalidPc, nullptr};
  for (auto [src, slot] : tb->incoming) {
    if (src->chained[slot] != tb) continue;
    patch_jump(src, slot, src->code + src->info.stub_offset[slot]);
    src->chained[slot] = nullptr;
  }
  tb->incoming.clear();
}

void TcgEngine::invalidate_code(uint64_t start, uint64_t len) {
  if (len == UINT64_MAX || start + len < start) {
    if (in_run_) {
      flush_pending_ = true;
      for (Tb& tb : tbs_) invalidate_tb(&tb);
      for (auto& tb : background_tbs_) invalidate_tb(tb.get());
    } else {
      flush();
    }
    return;
  }
  const uint64_t end = start + len;
  for (uint64_t page = start & ~(kPage - 1); page < end; page += kPage) {
    auto it = pages_.find(page);
    if (it != pages_.end()) {
      for (Tb* tb : it->second)
        if (tb->pc < end && tb->end > start) invalidate_tb(tb);
      std::erase_if(it->second, [](Tb* tb) { return !tb->valid; });
      if (it->second.empty()) pages_.erase(it);
    }
    // The mapping changed under us (munmap/mprotect): our protection is gone or stale.
    if (protected_pages_.count(page) && !pages_.count(page)) unprotect_page(page);
  }
}

// ---- self-modifying code ------------------------------------------------------------------

void TcgEngine::prepare_host_write(uint64_t start, uint64_t len) {
  if (len == 0) return;
  const uint64_t end = start + len < start ? UINT64_MAX : start + len;
  // Only the protected pages in the range matter; walk those rather than every page (the
  // buffer of a read() may be huge).
  auto it = protected_pages_.lower_bound(start & ~(kPage - 1));
  while (it != protected_pages_.end() && *it < end) {
    const uint64_t page = *it;
    // Like a guest store to the page: its translations go, and so does the protection.
    invalidate_code(page, kPage);
    if (protected_pages_.count(page)) unprotect_page(page);
    it = protected_pages_.upper_bound(page);
  }
}

void TcgEngine::protect_pages(const Tb& tb) {
  for (uint64_t page = tb.pc & ~(kPage - 1); page < tb.end; page += kPage) {
    if (protected_pages_.count(page)) continue;
    // Only pages the guest may write need watching.
    uint8_t* host = mem_.translate(page, kPage, riscv::Access::kWrite);
    if (!host) continue;
    if (::mprotect(host, kPage, PROT_READ) != 0) continue;
    protected_pages_.insert(page);
  }
}

void TcgEngine::unprotect_page(uint64_t page) {
  protected_pages_.erase(page);
  // Still guest-writable? Then give the write permission back.
  uint8_t* host = mem_.translate(page, kPage, riscv::Access::kRead);
  if (host && mem_.translate(page, kPage, riscv::Access::kWrite)) {
    ::mprotect(host, kPage, PROT_READ | PROT_WRITE);
  }
}

Tb* TcgEngine::tb_containing(const uint8_t* host_pc) {
  auto it = std::upper_bound(tbs_.begin(), tbs_.end(), host_pc,
                             [](const uint8_t* p, const Tb& tb) { return p < tb.code; });
  if (it == tbs_.begin()) return nullptr;
  --it;
  if (host_pc >= it->code + it->size) return nullptr;
  return &*it;
}

bool TcgEngine::handle_host_fault(int sig, siginfo_t* info, void* ucontext) {
  TcgEngine* e = t_active ? t_active : g_any_engine;
  return e && e->on_fault(sig, info, ucontext);
}

bool TcgEngine::on_fault(int /*sig*/, siginfo_t* info, void* ucontext) {
  auto* uc = static_cast<ucontext_t*>(ucontext);
  const auto fault_addr = reinterpret_cast<uintptr_t>(info->si_addr);
  const auto base = reinterpret_cast<uintptr_t>(cpu_ ? cpu_->guest_base : nullptr);
  // A store to a page we write-protected because it holds translated code (user mode, where
  // guest_base may be 0: the guest's window at host address 0).
  if (cpu_ && !sys_ && fault_addr >= base && fault_addr - base < cpu_->guest_limit) {
    uint64_t page = (fault_addr - base) & ~(kPage - 1);
    if (protected_pages_.count(page)) {
      ++stats_.smc_faults;
      invalidate_code(page, kPage);
      if (protected_pages_.count(page)) unprotect_page(page);
      return true;  // retry the store
    }
  }
  // A guest memory fault inside generated code: resume at the access's fault stub, which
  // writes back the guest state and leaves the TB with a precise exit.
  auto* rip = reinterpret_cast<uint8_t*>(uc->uc_mcontext.gregs[REG_RIP]);
  if (!buffer_.contains(rip)) return false;
  Tb* tb = tb_containing(rip);
  if (!tb) return false;
  const uint32_t off = static_cast<uint32_t>(rip - tb->code);
  auto it = std::lower_bound(tb->info.fault_sites.begin(), tb->info.fault_sites.end(), off,
                             [](const FaultSite& s, uint32_t o) { return s.host_offset < o; });
  if (it == tb->info.fault_sites.end() || it->host_offset != off) return false;
  uc->uc_mcontext.gregs[REG_RIP] = reinterpret_cast<greg_t>(tb->code + it->stub_offset);
  return true;
}

// ---- choosing the pinned registers ---------------------------------------------------------

void TcgEngine::on_sample(uint64_t pc, uint32_t frm) {
  buffer_.runtime()->sample_countdown = opts_.pin_sample_period;
  if (!sampling_) return;
  if (Tb* tb = find(pc, frm)) {
    for (int r = 1; r < 32; ++r) reg_usage_[r] += tb->reg_uses[r];
  }
  if (++samples_ >= opts_.pin_samples) choose_pinned();
}

void TcgEngine::choose_pinned() {
  sampling_ = false;
  unsigned regs[32];
  unsigned n = 0;
  for (unsigned r = 1; r < 32; ++r)
    if (reg_usage_[r]) regs[n++] = r;
  std::stable_sort(regs, regs + n,
                   [&](unsigned a, unsigned b) { return reg_usage_[a] > reg_usage_[b]; });
  // Fill up with the default registers (they cost nothing where unused).
  const PinnedMap& def = PinnedMap::default_map();
  for (unsigned r = 1; r < 32 && n < kMaxPinnedGuestRegs; ++r) {
    if (def.host_of_x(r) >= 0 && std::find(regs, regs + n, r) == regs + n) regs[n++] = r;
  }
  const PinnedMap map(regs, n);
  ++stats_.remaps;
  if (opts_.trace_pin || opts_.trace_out_asm) {
    std::string s;
    for (unsigned i = 0; i < n && i < kMaxPinnedGuestRegs; ++i) s += fmt::format(" x{}", regs[i]);
    fmt::print(trace_.log, "tcg: pinned guest registers:{}\n", s);
  }
  // Every TB (and the trampoline) follows one map: start over with the new one, translating
  // without the sampling countdown.
  flush();
  std::lock_guard lock(code_mutex_);
  buffer_.set_pinned(map);
  ++flush_epoch_;  // background work done between the flush and here followed the old map
}

// ---- the execution loop --------------------------------------------------------------------

ExitInfo TcgEngine::run(CpuState& cpu) {
  struct Active {
    TcgEngine* self;
    TcgEngine* prev;
    explicit Active(TcgEngine* s) : self(s), prev(t_active) {
      t_active = s;
      s->in_run_ = true;
    }
    ~Active() {
      t_active = prev;
      self->in_run_ = false;
    }
  } active(this);
  cpu_ = &cpu;
  if (sys_) check_system_state();
  if (opts_.background) drain_background();
  if (cpu.frm != last_frm_) {
    buffer_.clear_jump_cache();
    last_frm_ = cpu.frm;
  }
  Tb* next = nullptr;
  for (;;) {
    if (flush_pending_) {
      flush();
      next = nullptr;
    }
    Tb* tb = next;
    next = nullptr;
    if (!tb || !tb->valid) {
      tb = find_or_drain(cpu.pc, cpu.frm);
      if (!tb) {
        if (still_cold(cpu.pc, cpu.frm)) return {ExitKind::kColdCode, cpu.pc};
        ExitInfo fault{};
        tb = translate(cpu.pc, cpu.frm, &fault);
        if (!tb) return fault;
      }
    }
    if (trace_.cpu) riscv::dump_cpu_state(trace_.log, cpu);
    if (trace_.exec) {
      fmt::print(trace_.log, "Trace: {} [{:016x}]\n", fmt::ptr(tb->code), tb->pc);
    }
    EnterResult r;
    buffer_.enter()(&r, &cpu, cpu.guest_base, tb->code);
    cpu.fflags |= riscv::translate_detail::fflags_from_mxcsr(r.mxcsr);
    switch (static_cast<ExitCode>(r.code)) {
      case ExitCode::kChain: {
        Tb* from = reinterpret_cast<Tb*>(r.aux & ~uintptr_t{1});
        const unsigned slot = r.aux & 1;
        if (flush_pending_) break;
        const uint64_t flushes = stats_.flushes;
        Tb* to = find_or_drain(cpu.pc, cpu.frm);
        if (!to) {
          if (still_cold(cpu.pc, cpu.frm)) return {ExitKind::kColdCode, cpu.pc};
          ExitInfo fault{};
          to = translate(cpu.pc, cpu.frm, &fault);
          if (!to) return fault;
        }
        // translate() may have flushed everything, `from` included: then it is gone.
        if (opts_.chain && stats_.flushes == flushes && from->valid && from->frm == to->frm) {
          link(from, slot, to);
        }
        next = to;
        break;
      }
      case ExitCode::kLookup: {
        ++stats_.lookups;
        Tb* to = find_or_drain(cpu.pc, cpu.frm);
        if (!to) {
          if (still_cold(cpu.pc, cpu.frm)) return {ExitKind::kColdCode, cpu.pc};
          ExitInfo fault{};
          to = translate(cpu.pc, cpu.frm, &fault);
          if (!to) return fault;
        }
        if (opts_.jump_cache && to->phys2 == Tb::kNoPhys2) {
          buffer_.runtime()->jump_cache[jump_cache_index(cpu.pc)] = {jump_cache_key(cpu.pc, flags_),
                                                                     to->code};
        }
        next = to;
        break;
      }
      case ExitCode::kContinue:
        if (cpu.frm != last_frm_) {
          buffer_.clear_jump_cache();
          last_frm_ = cpu.frm;
        }
        break;
      case ExitCode::kSample:
        on_sample(cpu.pc, cpu.frm);
        break;
      case ExitCode::kInterrupt:
        buffer_.runtime()->exit_request = 0;
        return {ExitKind::kInterrupted, 0};
      default: {
        const auto kind = static_cast<ExitKind>(r.code - static_cast<uint64_t>(ExitCode::kGuest));
        // Full-system: CPU stores into code are caught exactly (CodePages) and the hart
        // drops code that devices wrote (CodePages::invalidate_device_written), so fence.i
        // does not flush everything.
        if (kind == ExitKind::kFenceI && !sys_) flush();
        return {kind, r.aux};
      }
    }
  }
}

// ---- factories and tracing -----------------------------------------------------------------

std::unique_ptr<riscv::ExecutionEngine> make_tcg_engine(riscv::GuestMemory& mem,
                                                        const riscv::TraceOptions& trace) {
  return make_tcg_engine(mem, trace, TcgOptions{});
}

std::unique_ptr<riscv::ExecutionEngine> make_tcg_engine(riscv::GuestMemory& mem,
                                                        const riscv::TraceOptions& trace,
                                                        const TcgOptions& opts) {
  return std::make_unique<TcgEngine>(mem, trace, opts);
}

}  // namespace tandem::tcg
