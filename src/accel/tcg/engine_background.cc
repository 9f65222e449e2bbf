// Background translation (TcgOptions::background): a block that turns hot in full-system mode
// is queued for a second thread, and the hart goes on interpreting it (the cold tier) until the
// translation is ready; the hart then takes it into its caches between two blocks.
//
// Why it is safe:
// - The job carries what the translation depends on, taken on the hart's thread: the block's
//   virtual and physical pc, its flags and rounding mode, and the host address of its guest
//   page. The background thread reads code from that page only (a block that needs the next
//   page, or cannot be read, goes back to the hart: Done::Status::kFailed).
// - It generates into the shared code buffer under code_mutex_, which flush() and the pinned
//   map's change hold too; a result made before a flush (flush_epoch_) is dropped.
// - Queuing marks the page as code (CodePages::add), so a store to it from then on reaches
//   invalidate_phys_page, which notes when; a result whose page changed after it was queued is
//   dropped, so is one whose page was written while it was read.
#include <pthread.h>
#include <x86intrin.h>

#include "accel/tcg/engine.h"
#include "target/riscv/translate.h"

namespace tandem::tcg {

namespace {

constexpr uint64_t kPage = 4096;

// The one guest page a background job may read: its code, at the host address the hart found.
class CodePageView final : public riscv::GuestMemory {
 public:
  CodePageView(uint64_t vpage, const uint8_t* host) : vpage_(vpage), host_(host) {}
  uint8_t* translate(uint64_t addr, uint64_t len, riscv::Access access) override {
    if (access != riscv::Access::kExec || addr < vpage_ || len > kPage ||
        addr - vpage_ > kPage - len) {
      return nullptr;
    }
    return const_cast<uint8_t*>(host_) + (addr - vpage_);
  }

 private:
  uint64_t vpage_;
  const uint8_t* host_;
};

}  // namespace

uint64_t TcgEngine::job_key(uint64_t pc, uint64_t phys, uint32_t frm, uint32_t flags) {
  uint64_t h = pc * 0x9e3779b97f4a7c15ull;
  h ^= (phys + (uint64_t{flags} << 40) + (uint64_t{frm} << 56)) * 0xc2b2ae3d27d4eb4full;
  return h ^ (h >> 29);
}

Tb* TcgEngine::find_or_drain(uint64_t pc, uint32_t frm) {
  Tb* tb = find(pc, frm);
  if (tb || !opts_.background || !has_done_.load(std::memory_order_relaxed)) return tb;
  drain_background();  // it may be among the finished ones
  return find(pc, frm);
}

bool TcgEngine::queue_background(uint64_t pc, uint64_t phys, uint32_t frm) {
  const uint64_t key = job_key(pc, phys, frm, flags_);
  if (queued_.count(key)) return true;
  if (hart_only_.count(key)) return false;
  // The page's bytes as the hart sees them now (one mapping for the whole page; else the
  // hart translates the block itself).
  const uint8_t* page = mem_.translate(pc & ~(kPage - 1), kPage, riscv::Access::kExec);
  if (!page) return false;
  sys_->code_pages().add(phys);
  Job job{.pc = pc,
          .phys = phys,
          .frm = frm,
          .flags = flags_,
          .page = page,
          .epoch = flush_epoch_.load(std::memory_order_relaxed),
          .stamp = invalidations_,
          .csr_helper = cpu_ ? cpu_->csr_helper : nullptr,
          .sample = sampling_};
  queued_.insert(key);
  {
    std::lock_guard lock(queue_mutex_);
    jobs_.push_back(job);
    if (!background_.joinable()) background_ = std::thread([this] { background_main(); });
  }
  queue_cv_.notify_one();
  return true;
}

void TcgEngine::drain_background() {
  if (!has_done_.load(std::memory_order_acquire)) return;
  std::vector<Done> done;
  {
    std::lock_guard lock(queue_mutex_);
    done.swap(done_);
    has_done_.store(false, std::memory_order_relaxed);
  }
  for (Done& d : done) {
    const Job& j = d.job;
    const uint64_t key = job_key(j.pc, j.phys, j.frm, j.flags);
    queued_.erase(key);
    if (d.status == Done::Status::kFailed) {
      hart_only_.insert(key);
      ++stats_.background_to_hart;
      continue;
    }
    // Translated before a flush (its code is gone), or from a page stored to since it was
    // queued: the next miss queues the block again.
    auto it = page_invalidated_at_.find(j.phys & ~(kPage - 1));
    if (d.status == Done::Status::kStale ||
        j.epoch != flush_epoch_.load(std::memory_order_relaxed) ||
        (it != page_invalidated_at_.end() && it->second > j.stamp)) {
      ++stats_.background_dropped;
      continue;
    }
    Tb* tb = background_tbs_.emplace_back(std::move(d.tb)).get();
    ++stats_.background;
    register_tb(tb, d.cost);
  }
}

void TcgEngine::background_main() {
  pthread_setname_np(pthread_self(), "tcg-background");  // for top, perf and gdb
  Ir ir;
  X86Backend backend;
  for (;;) {
    Job job;
    {
      std::unique_lock lock(queue_mutex_);
      queue_cv_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
      if (stop_) return;
      job = jobs_.back();
      jobs_.pop_back();
    }
    Done done{.job = job, .status = Done::Status::kStale, .tb = nullptr, .cost = {}};
    {
      std::lock_guard code(code_mutex_);
      if (job.epoch == flush_epoch_.load(std::memory_order_relaxed)) {
        riscv::TranslateParams params;
        params.pc = job.pc;
        params.frm = job.frm;
        params.flags = job.flags;
        params.host = &opts_.features;
        params.csr_helper = job.csr_helper;
        CodePageView view(job.pc & ~(kPage - 1), job.page);
        auto tb = std::make_unique<Tb>();
        tb->pc = job.pc;
        tb->phys = job.phys;
        tb->frm = job.frm;
        tb->flags = job.flags;
        GenResult r = GenResult::kTooBig;
        for (unsigned max_insns = opts_.max_insns; r == GenResult::kTooBig && max_insns > 0;
             max_insns /= 2) {
          params.max_insns = max_insns;
          riscv::TranslateResult res;
          done.cost = {};
          r = generate(ir, backend, view, params, *tb, res, done.cost, job.sample,
                       /*on_hart=*/false, /*trace=*/false);
        }
        if (r == GenResult::kOk) {
          done.status = Done::Status::kOk;
          done.tb = std::move(tb);
        } else {
          done.status = Done::Status::kFailed;  // the hart translates it (and flushes if full)
        }
      }
    }
    std::lock_guard lock(queue_mutex_);
    done_.push_back(std::move(done));
    has_done_.store(true, std::memory_order_release);
  }
}

void TcgEngine::stop_background() {
  {
    std::lock_guard lock(queue_mutex_);
    stop_ = true;
  }
  queue_cv_.notify_all();
  if (background_.joinable()) background_.join();
}

}  // namespace tandem::tcg
