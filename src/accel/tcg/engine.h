// The translator as a riscv::ExecutionEngine: the cpu_exec loop (look up or translate the TB
// at pc, run it, handle its exit), the TB cache, direct chaining of fixed jump targets,
// the jump cache for indirect jumps, and invalidation of translations when guest code changes
// (fence.i, munmap/mprotect through invalidate_code, and stores to write-protected guest pages
// that hold translated code).
#pragma once

#include <signal.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "accel/tcg/backend_x86.h"
#include "accel/tcg/code_buffer.h"
#include "accel/tcg/host_features.h"
#include "accel/tcg/ir.h"
#include "accel/tcg/opt.h"
#include "accel/tcg/perf_map.h"
#include "accel/tcg/softmmu.h"
#include "accel/tcg/tb_table.h"
#include "target/riscv/engine.h"
#include "target/riscv/translate.h"

namespace tandem::tcg {

struct TcgOptions {
  OptFlags opt;
  unsigned max_insns = 128;  // per TB
  bool count_instret = true;
  bool chain = true;        // patch direct jumps between TBs
  bool jump_cache = true;   // inline lookup for indirect jumps
  bool smc_protect = true;  // write-protect guest pages holding translated code
  bool pin_globals = true;  // keep the hottest guest registers in host registers (pinned.h)
  // Choosing them: every pin_sample_period-th TB entry is sampled; after pin_samples samples
  // the guest registers the sampled TBs use most are pinned (everything is retranslated).
  // pin_samples = 0 keeps the default map.
  uint32_t pin_sample_period = 1024;
  uint32_t pin_samples = 2000;
  size_t code_size = size_t{256} << 20;
  // The cold tier: code is translated the (translate_after + 1)-th time the dispatcher looks for
  // it; until then run() returns kColdCode and the caller interprets a block of it. Most of a
  // kernel boot's code runs only a few times, and translating a block costs about as much as
  // interpreting it a few dozen times. 0: translate at first sight.
  uint8_t translate_after = 0;
  // Full-system, with translate_after > 0: blocks that turn hot are translated on a background
  // thread while the hart keeps interpreting them, so translating leaves the hart's path (a
  // Debian boot translates for about a third of its time). Off while tracing.
  bool background = false;
  // Keep each translation's phase costs (TcgStats::samples) for medians: sums and means mix
  // in the times a busy host took the CPU away.
  bool sample_translation_costs = false;
  HostFeatures features = HostFeatures::host();
  // -d items beyond the generic TraceOptions.
  bool trace_op = false;
  bool trace_op_opt = false;
  bool trace_out_asm = false;
  bool trace_pin = false;  // log the pinned registers chosen from samples
  // Full-system mode: the hart this engine runs (its memory, TLB and block flags). Blocks are
  // then keyed by physical address too, loads and stores use the softmmu, and stores into
  // code are caught through CodePages instead of host page protection.
  SystemCpu* system = nullptr;
};

struct Tb {
  uint64_t pc = 0;
  uint64_t phys = 0;  // full-system: physical address of pc (else pc)
  // Full-system, an instruction crossing a page boundary: the physical address of the second
  // page, checked on every lookup (such TBs are never cached by virtual pc or chained to).
  uint64_t phys2 = kNoPhys2;
  static constexpr uint64_t kNoPhys2 = ~uint64_t{0};
  uint32_t frm = 0;
  uint32_t flags = 0;  // full-system: tb_flags
  uint64_t end = 0;    // guest bytes [pc, end)
  uint8_t* code = nullptr;
  uint32_t size = 0;
  TbCodeInfo info;
  uint8_t reg_uses[32] = {};  // reads and writes of each guest x register (saturating)
  Tb* chained[2] = {nullptr, nullptr};
  std::vector<std::pair<Tb*, uint8_t>> incoming;
  bool valid = true;
};

struct TcgStats {
  uint64_t translations = 0;
  uint64_t flushes = 0;
  uint64_t chains = 0;
  uint64_t lookups = 0;        // dispatcher round trips for indirect jumps
  uint64_t invalidations = 0;  // TBs dropped because guest code changed
  uint64_t smc_faults = 0;
  uint64_t remaps = 0;  // pinned-register maps chosen from samples
  // TcgOptions::background: translations made by the background thread (counted in
  // translations too), results dropped (a flush or a store to their page came first), and
  // blocks it gave back to the hart (a second page, or no room).
  uint64_t background = 0, background_dropped = 0, background_to_hart = 0;
  // Where translation time goes (host TSC cycles): decoding into IR, the IR passes, the
  // backend, and the bookkeeping after it; and the guest instructions translated.
  uint64_t cycles_frontend = 0, cycles_opt = 0, cycles_backend = 0, cycles_bookkeeping = 0;
  uint64_t guest_insns = 0;
  uint64_t ir_ops_before = 0, ir_ops_after = 0, ir_temps = 0;  // summed over translations
  // With TcgOptions::sample_translation_costs: {frontend, opt, backend} cycles of each of the
  // first kMaxSamples translations.
  static constexpr size_t kMaxSamples = 1 << 16;
  std::vector<std::array<uint32_t, 3>> samples;
};

class TcgEngine : public riscv::ExecutionEngine {
 public:
  TcgEngine(riscv::GuestMemory& mem, const riscv::TraceOptions& trace, const TcgOptions& opts);
  ~TcgEngine() override;

  riscv::ExitInfo run(riscv::CpuState& cpu) override;
  void invalidate_code(uint64_t start, uint64_t len) override;
  void prepare_host_write(uint64_t start, uint64_t len) override;
  const char* name() const override { return "tcg"; }

  // Makes run() return kInterrupted soon. Any thread; async-signal-safe.
  void request_exit() override { buffer_.runtime()->exit_request = 1; }

  // The process-wide SIGSEGV/SIGBUS hook: handles faults of generated code (guest memory
  // faults become precise guest exits) and stores to write-protected code pages (translations
  // are dropped, the page made writable again, the store retried). Returns false when the
  // fault is not the translator's business (the caller then treats it as a host crash).
  static bool handle_host_fault(int sig, siginfo_t* info, void* ucontext);

  const TcgStats& stats() const { return stats_; }
  void flush();
  const PinnedMap* pinned() const { return buffer_.pinned(); }

 private:
  Tb* find(uint64_t pc, uint32_t frm);
  void invalidate_phys_page(uint64_t page);
  void check_system_state();
  void drop_virtual_page(uint64_t page);
  void note_cached(uint64_t pc) {
    if (sys_) cached_vpages_.insert(pc & ~uint64_t{4095});
  }
  Tb* translate(uint64_t pc, uint32_t frm, riscv::ExitInfo* fault);
  // What one translation cost (TcgStats' sums and samples).
  struct GenCost {
    uint64_t frontend = 0, opt = 0, backend = 0;
    uint64_t insns = 0, ops_before = 0, ops_after = 0, temps = 0;
  };
  enum class GenResult : uint8_t { kOk, kFetchFault, kStraddles, kTooBig, kBufferFull };
  // One attempt at the block tb.pc: front end, passes and back end, into buffer_ at cur(), with
  // the thread's own IR and back end. The caller owns `tb` (the code refers to it) and holds
  // code_mutex_. `on_hart`: the hart's thread, which may look at its MMU (the second page of a
  // straddling block) and trace; the background thread returns kStraddles instead.
  GenResult generate(Ir& ir, X86Backend& backend, riscv::GuestMemory& mem,
                     const riscv::TranslateParams& params, Tb& tb, riscv::TranslateResult& res,
                     GenCost& cost, bool sample, bool on_hart, bool trace);
  // A new TB into the caches and page lists, and its cost into stats_.
  void register_tb(Tb* tb, const GenCost& cost);
  // The cold tier: counts a miss at pc; true while the block is to be interpreted (no more
  // than translate_after misses yet, or queued for the background translator).
  bool still_cold(uint64_t pc, uint32_t frm);

  // ---- background translation (engine_background.cc) ----
  struct Job {
    uint64_t pc, phys;
    uint32_t frm, flags;
    const uint8_t* page;  // host address of the guest page holding pc
    uint64_t epoch;       // flush_epoch_ when queued
    uint64_t stamp;       // invalidations_ when queued
    uint64_t (*csr_helper)(riscv::CpuState*, uint64_t, uint64_t);
    bool sample;
  };
  struct Done {
    Job job;
    enum class Status : uint8_t { kOk, kStale, kFailed } status;
    std::unique_ptr<Tb> tb;
    GenCost cost;
  };
  static uint64_t job_key(uint64_t pc, uint64_t phys, uint32_t frm, uint32_t flags);
  // True: queued (or already), interpret meanwhile; false: translate it here and now.
  bool queue_background(uint64_t pc, uint64_t phys, uint32_t frm);
  // Takes the background thread's finished blocks into the caches (the hart's thread).
  void drain_background();
  // find(), and if that misses, again after drain_background().
  Tb* find_or_drain(uint64_t pc, uint32_t frm);
  void background_main();
  void stop_background();
  void link(Tb* from, unsigned slot, Tb* to);
  void patch_jump(Tb* from, unsigned slot, const uint8_t* dest);
  void invalidate_tb(Tb* tb);
  void protect_pages(const Tb& tb);
  void unprotect_page(uint64_t page);
  bool on_fault(int sig, siginfo_t* info, void* ucontext);
  Tb* tb_containing(const uint8_t* host_pc);
  void on_sample(uint64_t pc, uint32_t frm);
  void choose_pinned();

  riscv::GuestMemory& mem_;
  riscv::TraceOptions trace_;
  TcgOptions opts_;
  CodeBuffer buffer_;
  X86Backend backend_;  // after buffer_: it works inside it
  std::deque<Tb> tbs_;  // in code-address order since the last flush
  TbTable<Tb> map_;
  // guest page (physical in full-system mode) -> TBs with code there
  std::unordered_map<uint64_t, std::vector<Tb*>> pages_;
  SystemCpu* sys_ = nullptr;
  uint32_t flags_ = 0;           // full-system: the flags of the state being run
  uint64_t tlb_generation_ = 0;  // full-system: the TLB flush count the virtual-pc caches match
  // Full-system: virtual pages with pcs in fast_ or the jump cache since they were last cleared.
  std::unordered_set<uint64_t> cached_vpages_;
  std::set<uint64_t> protected_pages_;
  Tb* fast_[kJumpCacheSize] = {};
  uint32_t last_frm_ = ~0u;
  bool flush_pending_ = false;
  bool in_run_ = false;
  riscv::CpuState* cpu_ = nullptr;
  Ir ir_;
  TcgStats stats_;
  // Held while code is generated into buffer_ and while it is reset or its pinned map changed:
  // the background thread generates code too.
  std::mutex code_mutex_;
  std::atomic<uint64_t> flush_epoch_{0};  // flush() count: older background results are void
  // Background translation: jobs and results (queue_mutex_), the keys (job_key) queued and
  // the ones it could not do (the hart translates those), the TBs it made (for flush and
  // invalidation), and when each physical page last had its code invalidated.
  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::deque<Job> jobs_;
  std::vector<Done> done_;
  std::atomic<bool> has_done_{false};
  bool stop_ = false;
  std::thread background_;
  std::unordered_set<uint64_t> queued_, hart_only_;
  std::vector<std::unique_ptr<Tb>> background_tbs_;
  uint64_t invalidations_ = 0;
  std::unordered_map<uint64_t, uint64_t> page_invalidated_at_;
  PerfMap* perf_map_ = nullptr;  // TANDEM_PERF_MAP
  bool sampling_ = false;
  uint32_t samples_ = 0;
  uint64_t reg_usage_[32] = {};
  TcgEngine* prev_active_ = nullptr;
  // The cold tier's miss counts, direct-mapped by (physical pc, flags): a collision only makes
  // a block hot sooner.
  static constexpr unsigned kVisitBits = 16;
  std::unique_ptr<uint8_t[]> visits_;
};

// EngineFactory-compatible constructor (see user/user_main.h).
std::unique_ptr<riscv::ExecutionEngine> make_tcg_engine(riscv::GuestMemory& mem,
                                                        const riscv::TraceOptions& trace);
std::unique_ptr<riscv::ExecutionEngine> make_tcg_engine(riscv::GuestMemory& mem,
                                                        const riscv::TraceOptions& trace,
                                                        const TcgOptions& opts);

// Prints host code with capstone (the -d out_asm format).
std::string disassemble_host(const uint8_t* code, size_t size);

}  // namespace tandem::tcg
