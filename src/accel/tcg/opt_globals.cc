// Guest-register caching: within a TB each guest register is loaded from CpuState at most once
// and stored at most once, just before the TB can be left. Ops that may fault on the way (guest
// loads, stores, atomics) carry the list of values still to be written back (their "sync"
// list), so that the fault path can make CpuState exact.
#include <algorithm>

#include "accel/tcg/opt.h"
#include "accel/tcg/pinned.h"

namespace tandem::tcg {

namespace {

struct Cached {
  int32_t offset;
  Type type;
  Temp value;
  bool dirty;
};

}  // namespace

void opt_globals(Ir& ir, const PinnedMap* pinned) {
  // Per-thread tables, reused from block to block (count_defs in opt.h); `out` trades places
  // with ir.ops at the end, so both vectors keep their capacity.
  thread_local std::vector<Op> out;
  out.clear();
  thread_local std::vector<Cached> cache;
  cache.clear();

  auto find = [&](int32_t off) -> Cached* {
    for (Cached& c : cache)
      if (c.offset == off) return &c;
    return nullptr;
  };
  auto store = [&](Cached& c) {
    out.push_back({.opc = Opc::kStGlobal, .type = c.type, .a = c.value, .imm = c.offset});
    c.dirty = false;
  };
  auto flush = [&] {
    for (Cached& c : cache)
      if (c.dirty) store(c);
  };

  for (const Op& in : ir.ops) {
    Op op = in;
    // Pinned globals live in host registers: reads and writes go straight to them (opt_pinned
    // forwards and drops what it can).
    if (pinned && (op.opc == Opc::kLdGlobal || op.opc == Opc::kStGlobal) &&
        pinned->reg_of(static_cast<int32_t>(op.imm)) >= 0) {
      out.push_back(op);
      continue;
    }
    switch (op.opc) {
      case Opc::kLdGlobal: {
        int32_t off = static_cast<int32_t>(op.imm);
        Cached* c = find(off);
        if (c && c->type == op.type) {
          out.push_back({.opc = Opc::kMov, .type = op.type, .d = op.d, .a = c->value});
          break;
        }
        if (c && c->dirty) store(*c);
        out.push_back(op);
        if (c) {
          *c = {off, op.type, op.d, false};
        } else {
          cache.push_back({off, op.type, op.d, false});
        }
        break;
      }
      case Opc::kStGlobal: {
        int32_t off = static_cast<int32_t>(op.imm);
        Cached* c = find(off);
        if (c) {
          *c = {off, op.type, op.a, true};
        } else {
          cache.push_back({off, op.type, op.a, true});
        }
        break;
      }
      case Opc::kLoad:
      case Opc::kStore:
      case Opc::kAmo:
      case Opc::kLr:
      case Opc::kSc: {
        std::vector<SyncEntry> sync;
        for (const Cached& c : cache)
          if (c.dirty) sync.push_back({c.offset, c.type, c.value});
        if (!sync.empty()) {
          op.sync = static_cast<int32_t>(ir.syncs.size());
          ir.syncs.push_back(std::move(sync));
        }
        out.push_back(op);
        break;
      }
      case Opc::kCall:
        if (op.aux & (kCallReadsEnv | kCallWritesEnv)) flush();
        out.push_back(op);
        if (op.aux & kCallWritesEnv) cache.clear();
        break;
      case Opc::kBr:
      case Opc::kBrcond:
      case Opc::kGotoTb:
      case Opc::kExitIndirect:
      case Opc::kExit:
        flush();
        out.push_back(op);
        break;
      case Opc::kLabel:
        // Paths merge here: what each path cached may differ, so start afresh.
        flush();
        cache.clear();
        out.push_back(op);
        break;
      default:
        out.push_back(op);
        break;
    }
  }
  flush();
  ir.ops.swap(out);
}

}  // namespace tandem::tcg
