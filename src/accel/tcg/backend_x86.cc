#include "accel/tcg/backend_x86.h"

#include <xbyak/xbyak.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>

#include "accel/tcg/opt.h"

namespace tandem::tcg {

namespace detail {

using namespace Xbyak::util;  // NOLINT
using riscv::CpuState;
using Xbyak::Reg;
using Xbyak::Reg32;
using Xbyak::Reg64;
using Xbyak::Xmm;

constexpr uint32_t kInf = ~0u;
constexpr int kNoReg = -1;
constexpr int kXmmBase = 16;

// Allocation order: caller-saved first (most blocks call nothing), then callee-saved. Registers
// holding pinned guest state (pinned.h) are left out when pinning is on.
constexpr int kGprOrder[] = {6, 7, 8, 9, 10, 11, 3, 5, 12, 13};
constexpr uint32_t kCallerSavedGprs =
    (1u << 6) | (1u << 7) | (1u << 8) | (1u << 9) | (1u << 10) | (1u << 11);
constexpr int kNumXmmAlloc = 14;

const Reg64 kEnv = r14;
const Reg64 kGuestBase = r15;

bool is_float_type(tcg::Type t) {
  return t == tcg::Type::kF32 || t == tcg::Type::kF64;
}

bool fits_i32(uint64_t v) {
  int64_t s = static_cast<int64_t>(v);
  return s >= INT32_MIN && s <= INT32_MAX;
}

// A jump target inside the block being generated (Emitter::new_label).
struct Lbl {
  uint32_t id = 0;
};

// The body of an out-of-line code piece, run after the block's hot path: a small lambda kept
// in place (std::function would allocate for most of their captures). Captures must be
// trivially copyable values: registers, flags, labels, `this`.
class ColdFn {
 public:
  template <typename F>
  void set(const F& f) {
    static_assert(std::is_trivially_copyable_v<F> && sizeof(F) <= kSize &&
                      alignof(F) <= alignof(std::max_align_t),
                  "cold bodies capture a few trivially copyable values");
    new (storage_) F(f);
    call_ = [](const void* p) { (*static_cast<const F*>(p))(); };
  }
  void operator()() const { call_(storage_); }

 private:
  static constexpr size_t kSize = 128;
  alignas(std::max_align_t) unsigned char storage_[kSize];
  void (*call_)(const void*) = nullptr;
};

class Emitter : public Xbyak::CodeGenerator {
 public:
  // One emitter serves every TB of a code buffer [base, base + span): its vectors keep their
  // memory from one TB to the next, so translating a block allocates nothing in the steady
  // state.
  Emitter(uint8_t* base, size_t span) : Xbyak::CodeGenerator(span, base) {}

  // Generates the TB at buf (inside the span), at most cap bytes; returns its size.
  size_t run(const Ir& ir, const BackendContext& ctx, uint8_t* buf, size_t cap, TbCodeInfo* info);

 private:
  size_t emit_tb();

 private:
  struct TempState {
    int16_t reg = kNoReg;
    int16_t slot = -1;
    bool in_mem = false;
  };
  // Out-of-line code emitted after the block's hot path: a fault stub (fault >= 0, an index
  // into fault_stubs_: one per guest memory access, so plain data rather than a closure) or
  // any other body. Pooled across blocks.
  struct Cold {
    Lbl label;
    ColdFn body;
    int fault = -1;
  };
  // Where a temp's value can be found at a given moment (for fault stubs).
  struct ValueLoc {
    int reg = kNoReg;
    int slot = -1;
    bool is_const = false;
    uint64_t value = 0;
  };
  using SyncList = std::vector<std::pair<SyncEntry, ValueLoc>>;
  struct FaultStub {
    int addr_reg;
    riscv::ExitKind kind;
    SyncList syncs;
    uint64_t pc;
    uint32_t retired;
  };

  // ---- liveness --------------------------------------------------------------------------
  void compute_uses();
  uint32_t next_use(Temp t) {
    uint32_t& c = cursor_[t];
    const uint32_t end = use_begin_[t + 1];
    while (c < end && use_pos_[c] <= pos_) ++c;
    return c < end ? use_pos_[c] : kInf;
  }
  bool dies_here(Temp t) const { return t != kNoTemp && last_use_[t] <= pos_; }

  // ---- pinned guest state (pinned.h) -------------------------------------------------------
  int pinned_of(int64_t offset) const {
    return pin_ ? pinned_->reg_of(static_cast<int32_t>(offset)) : kNoReg;
  }
  static bool is_pinned_reg(int r) { return PinnedMap::is_pinned_host_reg(r); }
  bool pinned_written(int reg, uint32_t from, uint32_t to, Temp self = kNoTemp) const;
  void plan_pinned();
  void spill_pinned(uint32_t mask);   // pinned registers in mask -> CpuState
  void reload_pinned(uint32_t mask);  // CpuState -> pinned registers in mask
  uint32_t pinned_mask(bool caller_saved_only) const;

  // ---- register allocation ----------------------------------------------------------------
  bool is_xmm(Temp t) const { return is_float_type(ir_->temps[t].type); }
  int pick_reg(bool xmm);
  void evict(int r);
  void store_to_slot(Temp t);
  int slot_offset(Temp t) const { return kFrameSpill + 8 * ts_[t].slot; }
  int in_reg(Temp t);  // loads t into a register (locked for the current op)
  int def_reg(Temp d, int reuse = kNoReg);
  void free_temp(Temp t);
  void end_op(const Op& op);
  void sync_live();                             // every live temp in a register also in its slot
  void drop_regs(uint32_t mask_gpr, bool xmm);  // forget register copies (after sync)
  void bind(int r, Temp t) {
    owner_[r] = t;
    ts_[t].reg = static_cast<int16_t>(r);
    locked_ |= 1u << r;
  }
  ValueLoc where(Temp t) const {
    ValueLoc l;
    if (ir_->is_const(t)) {
      l.is_const = true;
      l.value = ir_->const_value(t);
    } else if (ts_[t].reg != kNoReg) {
      l.reg = ts_[t].reg;
    } else {
      l.slot = kFrameSpill + 8 * ts_[t].slot;
    }
    return l;
  }

  Reg64 gpr(int r) const { return Reg64(r); }
  Reg gprw(int r, tcg::Type t) const {
    return t == tcg::Type::kI32 ? Reg(Reg32(r)) : Reg(Reg64(r));
  }
  Xbyak::Reg32e gpre(int r, tcg::Type t) const {
    return t == tcg::Type::kI32 ? Xbyak::Reg32e(Reg32(r)) : Xbyak::Reg32e(Reg64(r));
  }
  Xmm xmm(int r) const { return Xmm(r - kXmmBase); }
  bool imm_operand(Temp t, tcg::Type type, int32_t* v) const {
    if (!ir_->is_const(t)) return false;
    uint64_t c = ir_->const_value(t);
    if (type == tcg::Type::kI32) {
      *v = static_cast<int32_t>(static_cast<uint32_t>(c));
      return true;
    }
    if (!fits_i32(c)) return false;
    *v = static_cast<int32_t>(c);
    return true;
  }
  // Where the TB being generated starts, and its size so far.
  const uint8_t* tb_code() const { return getCode() + tb_start_; }
  size_t tb_size() const { return getSize() - tb_start_; }
  // Jump targets inside the block: an index into label_pos_. Every jump to one is a rel32,
  // patched when the block is done (patch_labels). Xbyak's own labels cost several heap
  // allocations each (its LabelManager keeps hash tables), which for blocks of a handful of
  // guest instructions was a large share of the translation time.
  Lbl new_label() {
    label_pos_.push_back(kUnplaced);
    return {static_cast<uint32_t>(label_pos_.size() - 1)};
  }
  void L(Lbl l) { label_pos_[l.id] = static_cast<int32_t>(getSize()); }
  using Xbyak::CodeGenerator::L;
  // The label's offset from the start of the TB (once placed).
  uint32_t label_offset(Lbl l) const {
    return static_cast<uint32_t>(static_cast<size_t>(label_pos_[l.id]) - tb_start_);
  }
  void rel32_to(Lbl l) {
    fixups_.push_back({l.id, static_cast<uint32_t>(getSize())});
    dd(0);
  }
  void jcc_to(uint8_t cc, Lbl l) {
    db(0x0f);
    db(0x80 | cc);
    rel32_to(l);
  }
  void patch_labels();
  // Jumps to Lbl, always near (rel32); the other overloads stay Xbyak's.
  using LabelType = Xbyak::CodeGenerator::LabelType;
  void jmp(Lbl l, LabelType = T_NEAR) {
    db(0xe9);
    rel32_to(l);
  }
  using Xbyak::CodeGenerator::jmp;
  void je(Lbl l, LabelType = T_NEAR) { jcc_to(0x4, l); }
  void jz(Lbl l, LabelType = T_NEAR) { jcc_to(0x4, l); }
  void jne(Lbl l, LabelType = T_NEAR) { jcc_to(0x5, l); }
  void jnz(Lbl l, LabelType = T_NEAR) { jcc_to(0x5, l); }
  void jb(Lbl l, LabelType = T_NEAR) { jcc_to(0x2, l); }
  void jae(Lbl l, LabelType = T_NEAR) { jcc_to(0x3, l); }
  void jbe(Lbl l, LabelType = T_NEAR) { jcc_to(0x6, l); }
  void ja(Lbl l, LabelType = T_NEAR) { jcc_to(0x7, l); }
  void jp(Lbl l, LabelType = T_NEAR) { jcc_to(0xa, l); }
  void jl(Lbl l, LabelType = T_NEAR) { jcc_to(0xc, l); }
  void jge(Lbl l, LabelType = T_NEAR) { jcc_to(0xd, l); }
  void jle(Lbl l, LabelType = T_NEAR) { jcc_to(0xe, l); }
  void jg(Lbl l, LabelType = T_NEAR) { jcc_to(0xf, l); }
  template <typename F>
  Lbl cold(const F& body) {
    Cold& c = new_cold();
    c.body.set(body);
    return c.label;
  }
  void mov_imm(const Reg64& r, uint64_t v) {
    if (v == 0) {
      xor_(r.cvt32(), r.cvt32());
    } else if (v <= 0xffffffffu) {
      mov(r.cvt32(), static_cast<uint32_t>(v));
    } else {
      mov(r, v);
    }
  }
  void store_env_imm64(int offset, uint64_t v) {
    if (fits_i32(v)) {
      mov(qword[kEnv + offset], v);
    } else {
      mov(rax, v);
      mov(qword[kEnv + offset], rax);
    }
  }
  void add_instret(uint32_t n) {
    if (!ctx_->count_instret || !n) return;
    const int r = pinned_of(offsetof(CpuState, instret));
    if (r != kNoReg) {
      add(gpr(r), n);
    } else {
      add(qword[kEnv + offsetof(CpuState, instret)], n);
    }
  }
  void jmp_epilogue(uint32_t code) {
    mov(eax, code);
    jmp(reinterpret_cast<const void*>(ctx_->buffer->epilogue()), T_NEAR);
  }
  void write_sync_entry(const SyncEntry& s, const ValueLoc& l);
  // addr_reg kAddrInScratch: the guest address is at [rsp + kFrameScratch] (softmmu slow
  // paths, whose call clobbers the scratch registers), and the helper's mem_fault is cleared.
  static constexpr int kAddrInScratch = -2;
  Lbl emit_fault_stub(int addr_reg, riscv::ExitKind kind, const SyncList& syncs);
  // Where the values op's fault path writes back live now: a scratch list, valid until the
  // next call.
  const SyncList& capture_syncs(const Op& op);
  void canonicalize_nan(const Xmm& x, bool f64);

  // ---- op emitters ------------------------------------------------------------------------
  void emit_op(const Op& op);
  void emit_mov(const Op& op);
  void emit_ld_global(const Op& op);
  void emit_st_global(const Op& op);
  void emit_st_global_env(const Op& op, int ra);
  void emit_alu(const Op& op);
  void emit_shladd(const Op& op);
  void emit_shift(const Op& op);
  void emit_unary(const Op& op);
  void emit_mulh(const Op& op);
  void emit_divrem(const Op& op);
  void emit_minmax(const Op& op);
  void emit_setcc(const Op& op);
  void emit_bitcount(const Op& op);
  void emit_memory(const Op& op);
  void emit_memory_softmmu(const Op& op);
  void emit_atomic_softmmu(const Op& op);
  void emit_amo(const Op& op);
  void emit_lr_sc(const Op& op);
  void emit_call(const Op& op);
  void emit_brcond(const Op& op);
  void emit_goto_tb(const Op& op);
  void emit_exit_indirect(const Op& op);
  void emit_exit(const Op& op);
  void emit_fbinop(const Op& op);
  void emit_fmadd(const Op& op);
  void emit_fcmp(const Op& op);
  void emit_fcvt(const Op& op);
  void emit_fcvt_fi(const Op& op);
  void emit_bitcast(const Op& op);
  void cmp_operands(Temp a, Temp b, tcg::Type type, Cond* cond);
  int address_reg(const Op& op);  // guest address (a + imm) in a register
  void bounds_check(const Reg64& addr, Lbl fault);
  // User mode: the host operand of guest address A (in a register).
  Xbyak::RegExp guest_operand(const Reg64& A) const {
    return ctx_->direct_guest_memory ? Xbyak::RegExp(A) : kGuestBase + A;
  }
  // The host operand of a load whose address is the shladd just emitted, computed from the
  // shladd's own inputs so that the load does not wait for it; false if it cannot be.
  bool fused_load_operand(const Op& op, Xbyak::RegExp* out) const;

  // The TB being generated (set by run()).
  const Ir* ir_ = nullptr;
  const BackendContext* ctx_ = nullptr;
  TbCodeInfo* info_ = nullptr;
  RuntimeData* rt_ = nullptr;
  const HostFeatures* f_ = nullptr;
  const PinnedMap* pinned_ = nullptr;
  bool pin_ = false;
  // The last shladd emitted, for fused_load_operand (direct guest memory only).
  struct LastShlAdd {
    Temp d = kNoTemp;
    int ra = kNoReg;  // kNoReg: the addend is imm
    int rb = kNoReg;
    int scale = 1;
    int32_t imm = 0;
    size_t end = 0;  // code size right after it
  } shladd_;
  size_t tb_start_ = 0;  // offset of the TB from the start of the span
  std::vector<int> gpr_order_;
  // Per temp: the pinned host register it lives in (kNoReg for none). Either an alias (a load
  // of a pinned global whose register is not written while the temp lives: no code at all) or
  // a target (the temp's only use is the store to a pinned global right after its definition:
  // the value is computed in place).
  std::vector<int8_t> home_;
  // Scratch tables kept from block to block (no allocation per translation).
  std::vector<uint32_t> defs_, scratch_count_, scratch_fill_;
  SyncList scratch_syncs_;

  std::vector<TempState> ts_;
  int owner_[32];
  uint32_t locked_ = 0;
  std::vector<uint32_t> use_pos_, use_begin_, cursor_, last_use_;
  std::vector<int16_t> free_slots_;
  int next_slot_ = 0;
  uint32_t pos_ = 0;
  std::vector<std::unique_ptr<Cold>> colds_;  // the first num_colds_ are this block's
  size_t num_colds_ = 0;
  std::vector<FaultStub> fault_stubs_;  // the first num_fault_stubs_ are this block's
  size_t num_fault_stubs_ = 0;
  Cold& new_cold() {
    if (num_colds_ == colds_.size()) colds_.push_back(std::make_unique<Cold>());
    Cold& c = *colds_[num_colds_++];
    c.fault = -1;
    c.label = new_label();
    return c;
  }
  void emit_fault_stub_body(const FaultStub& f);
  static constexpr int32_t kUnplaced = -1;
  std::vector<int32_t> label_pos_;  // per Lbl: its offset in the span, or kUnplaced
  struct LabelFixup {
    uint32_t label;
    uint32_t at;  // offset of the rel32 in the span
  };
  std::vector<LabelFixup> fixups_;
  std::vector<Lbl> labels_;  // the IR's labels
  uint64_t cur_pc_ = 0;
  uint32_t insn_count_ = 0;  // instructions started so far
  struct PendingSite {
    size_t host_offset;
    Lbl stub;
  };
  std::vector<PendingSite> sites_;
  Lbl goto_stub_[2] = {};
};

// ---- liveness ---------------------------------------------------------------------------

void Emitter::compute_uses() {
  const size_t n = ir_->temps.size();
  std::vector<uint32_t>& count = scratch_count_;
  count.assign(n + 1, 0);
  auto each_input = [&](const Op& op, auto&& fn) {
    for (Temp t : {op.a, op.b, op.c})
      if (t != kNoTemp) fn(t);
    if (op.sync >= 0)
      for (const SyncEntry& s : ir_->syncs[op.sync]) fn(s.value);
  };
  for (const Op& op : ir_->ops) each_input(op, [&](Temp t) { ++count[t]; });
  use_begin_.assign(n + 1, 0);
  for (size_t t = 0; t < n; ++t) use_begin_[t + 1] = use_begin_[t] + count[t];
  use_pos_.assign(use_begin_[n], 0);
  std::vector<uint32_t>& fill = scratch_fill_;
  fill.assign(use_begin_.begin(), use_begin_.end() - 1);
  last_use_.assign(n, 0);
  for (uint32_t i = 0; i < ir_->ops.size(); ++i) {
    each_input(ir_->ops[i], [&](Temp t) {
      // The same temp may appear twice in one op: record the position once.
      if (fill[t] > use_begin_[t] && use_pos_[fill[t] - 1] == i) return;
      use_pos_[fill[t]++] = i;
      last_use_[t] = i;
    });
  }
  // Duplicates skipped above leave the tail unused: mark it "no use".
  for (size_t t = 0; t < n; ++t)
    for (uint32_t c = fill[t]; c < use_begin_[t + 1]; ++c) use_pos_[c] = 0;
  cursor_.assign(use_begin_.begin(), use_begin_.end() - 1);
}

// ---- register allocation ----------------------------------------------------------------

int Emitter::pick_reg(bool want_xmm) {
  auto candidates = [&](auto&& fn) {
    if (want_xmm) {
      for (int i = 0; i < kNumXmmAlloc; ++i) fn(kXmmBase + i);
    } else {
      for (int r : gpr_order_) fn(r);
    }
  };
  int found = kNoReg;
  candidates([&](int r) {
    if (found == kNoReg && owner_[r] < 0 && !(locked_ & (1u << r))) found = r;
  });
  if (found != kNoReg) return found;
  uint32_t best_use = 0;
  candidates([&](int r) {
    if (locked_ & (1u << r)) return;
    uint32_t nu = next_use(static_cast<Temp>(owner_[r]));
    if (found == kNoReg || nu > best_use) {
      found = r;
      best_use = nu;
    }
  });
  if (found == kNoReg) throw BackendOverflow("no allocatable register");
  evict(found);
  return found;
}

void Emitter::store_to_slot(Temp t) {
  TempState& s = ts_[t];
  if (s.slot < 0) {
    if (!free_slots_.empty()) {
      s.slot = free_slots_.back();
      free_slots_.pop_back();
    } else {
      if (next_slot_ >= kMaxSpillSlots) throw BackendOverflow("out of spill slots");
      s.slot = static_cast<int16_t>(next_slot_++);
    }
  }
  if (s.reg >= kXmmBase) {
    movsd(qword[rsp + slot_offset(t)], xmm(s.reg));
  } else {
    mov(qword[rsp + slot_offset(t)], gpr(s.reg));
  }
  s.in_mem = true;
}

void Emitter::evict(int r) {
  Temp t = static_cast<Temp>(owner_[r]);
  if (!ir_->is_const(t) && !ts_[t].in_mem) store_to_slot(t);
  ts_[t].reg = kNoReg;
  owner_[r] = -1;
}

int Emitter::in_reg(Temp t) {
  TempState& s = ts_[t];
  if (s.reg != kNoReg) {
    locked_ |= 1u << s.reg;
    return s.reg;
  }
  const bool x = is_xmm(t);
  int r = pick_reg(x);
  if (ir_->is_const(t)) {
    uint64_t v = ir_->const_value(t);
    if (x) {
      if (v == 0) {
        xorps(xmm(r), xmm(r));
      } else {
        mov_imm(rax, v);
        movq(xmm(r), rax);
      }
    } else {
      mov_imm(gpr(r), v);
    }
  } else {
    if (!s.in_mem) throw BackendOverflow("temp read before it was written");
    if (x) {
      movsd(xmm(r), qword[rsp + slot_offset(t)]);
    } else {
      mov(gpr(r), qword[rsp + slot_offset(t)]);
    }
  }
  bind(r, t);
  return r;
}

int Emitter::def_reg(Temp d, int reuse) {
  TempState& s = ts_[d];
  if (s.reg != kNoReg) {  // redefinition (temps written on several paths)
    if (owner_[s.reg] == static_cast<int>(d)) owner_[s.reg] = -1;
    s.reg = kNoReg;
  }
  s.in_mem = false;
  if (home_[d] != kNoReg) {  // computed straight into the pinned register it is stored to
    s.reg = home_[d];
    locked_ |= 1u << s.reg;
    return s.reg;
  }
  // A pinned register holds guest state: never hand it over to another temp.
  if (reuse != kNoReg && reuse < kXmmBase && is_pinned_reg(reuse) && pin_) reuse = kNoReg;
  if (reuse != kNoReg && owner_[reuse] >= 0) {
    Temp old = static_cast<Temp>(owner_[reuse]);
    if (old != d) {
      ts_[old].reg = kNoReg;
      // The old value dies here, but keep its slot bookkeeping for free_temp().
    }
    bind(reuse, d);
    return reuse;
  }
  int r = pick_reg(is_xmm(d));
  bind(r, d);
  return r;
}

void Emitter::free_temp(Temp t) {
  TempState& s = ts_[t];
  if (s.reg != kNoReg && owner_[s.reg] == static_cast<int>(t)) owner_[s.reg] = -1;
  s.reg = kNoReg;
  if (s.slot >= 0) {
    free_slots_.push_back(s.slot);
    s.slot = -1;
  }
  s.in_mem = false;
}

void Emitter::end_op(const Op& op) {
  auto release = [&](Temp t) {
    if (t != kNoTemp && t != op.d && last_use_[t] <= pos_) free_temp(t);
  };
  release(op.a);
  release(op.b);
  release(op.c);
  if (op.sync >= 0)
    for (const SyncEntry& s : ir_->syncs[op.sync]) release(s.value);
  if (op.d != kNoTemp && next_use(op.d) == kInf) free_temp(op.d);
  locked_ = 0;
}

void Emitter::sync_live() {
  for (int r = 0; r < 32; ++r) {
    if (owner_[r] < 0) continue;
    Temp t = static_cast<Temp>(owner_[r]);
    if (ir_->is_const(t) || ts_[t].in_mem) continue;
    if (next_use(t) == kInf) continue;
    store_to_slot(t);
  }
}

void Emitter::drop_regs(uint32_t mask_gpr, bool xmm_too) {
  for (int r = 0; r < 32; ++r) {
    if (owner_[r] < 0) continue;
    if (r < kXmmBase ? !(mask_gpr & (1u << r)) : !xmm_too) continue;
    Temp t = static_cast<Temp>(owner_[r]);
    ts_[t].reg = kNoReg;
    owner_[r] = -1;
  }
}

// ---- pinned guest state -------------------------------------------------------------------

// Whether pinned register `reg` may change between ops from and to (inclusive).
bool Emitter::pinned_written(int reg, uint32_t from, uint32_t to, Temp self) const {
  const int instret_reg = pinned_of(offsetof(CpuState, instret));
  for (uint32_t j = from; j <= to && j < ir_->ops.size(); ++j) {
    const Op& op = ir_->ops[j];
    switch (op.opc) {
      case Opc::kStGlobal:
        // Storing the register's own value back (addiw x, x, 0 after folding) changes nothing.
        if (pinned_of(op.imm) == reg && !(op.a == self && op.type == tcg::Type::kI64)) return true;
        break;
      case Opc::kCall:
        if (op.aux & kCallWritesEnv) return true;
        break;
      case Opc::kGotoTb:
      case Opc::kExit:
      case Opc::kExitIndirect:
        if (reg == instret_reg) return true;
        break;
      default:
        break;
    }
  }
  return false;
}

void Emitter::plan_pinned() {
  home_.assign(ir_->temps.size(), static_cast<int8_t>(kNoReg));
  if (!pin_) return;
  count_defs(*ir_, defs_);
  const std::vector<uint32_t>& defs = defs_;
  const auto& ops = ir_->ops;
  // Aliases.
  for (uint32_t i = 0; i < ops.size(); ++i) {
    const Op& op = ops[i];
    if (op.opc != Opc::kLdGlobal || op.type != tcg::Type::kI64 || defs[op.d] != 1) continue;
    const int r = pinned_of(op.imm);
    if (r != kNoReg && !pinned_written(r, i + 1, last_use_[op.d], op.d)) {
      home_[op.d] = static_cast<int8_t>(r);
    }
  }
  // Targets: `d = op ...; st_global pinned, d` (instruction markers may lie between), where
  // the store is d's first use and the register keeps d's value for d's later uses.
  for (uint32_t i = 0; i + 1 < ops.size(); ++i) {
    const Op& op = ops[i];
    const Temp d = op.d;
    if (d == kNoTemp || home_[d] != kNoReg || is_xmm(d) || defs[d] != 1) continue;
    uint32_t j = i + 1;
    while (j < ops.size() && ops[j].opc == Opc::kInsnStart) ++j;
    if (j == ops.size()) continue;
    const Op& st = ops[j];
    if (st.opc != Opc::kStGlobal || st.a != d || st.type != tcg::Type::kI64) continue;
    const int r = pinned_of(st.imm);
    if (r == kNoReg) continue;
    if (op.opc == Opc::kCall || (op.opc == Opc::kLdGlobal && pinned_of(op.imm) != kNoReg)) {
      continue;
    }
    if (use_pos_[use_begin_[d]] != j || pinned_written(r, j + 1, last_use_[d], d)) continue;
    // Inputs other than the first may not live in the register the result is written to
    // (emitters read them after writing the destination). The first one may: then it dies
    // here (its register is written by the store) and the op works in place.
    auto in_r = [&](Temp t) { return t != kNoTemp && !ir_->is_const(t) && home_[t] == r; };
    if (in_r(op.b) || in_r(op.c)) continue;
    home_[d] = static_cast<int8_t>(r);
  }
}

uint32_t Emitter::pinned_mask(bool caller_saved_only) const {
  uint32_t m = 0;
  if (!pin_) return 0;
  pinned_->for_each([&](const PinnedGlobal& p) {
    if (!caller_saved_only || (kCallerSavedGprs & (1u << p.host_reg))) m |= 1u << p.host_reg;
  });
  return m;
}

void Emitter::spill_pinned(uint32_t mask) {
  if (!mask) return;
  pinned_->for_each([&](const PinnedGlobal& p) {
    if (mask & (1u << p.host_reg)) mov(qword[kEnv + p.offset], gpr(p.host_reg));
  });
}

void Emitter::reload_pinned(uint32_t mask) {
  if (!mask) return;
  pinned_->for_each([&](const PinnedGlobal& p) {
    if (mask & (1u << p.host_reg)) mov(gpr(p.host_reg), qword[kEnv + p.offset]);
  });
}

// ---- fault stubs ------------------------------------------------------------------------

const Emitter::SyncList& Emitter::capture_syncs(const Op& op) {
  SyncList& out = scratch_syncs_;
  out.clear();
  if (op.sync >= 0)
    for (const SyncEntry& s : ir_->syncs[op.sync]) out.push_back({s, where(s.value)});
  return out;
}

void Emitter::write_sync_entry(const SyncEntry& s, const ValueLoc& l) {
  const int off = s.offset;
  if (l.is_const) {
    uint64_t v = l.value;
    if (s.type == tcg::Type::kF32) v = 0xffffffff00000000ull | (v & 0xffffffffu);
    if (s.type == tcg::Type::kI32) {
      mov(dword[kEnv + off], static_cast<uint32_t>(v));
    } else {
      store_env_imm64(off, v);
    }
    return;
  }
  if (l.reg >= kXmmBase) {
    if (s.type == tcg::Type::kF32) {
      movss(dword[kEnv + off], xmm(l.reg));
      mov(dword[kEnv + off + 4], 0xffffffffu);
    } else {
      movsd(qword[kEnv + off], xmm(l.reg));
    }
    return;
  }
  if (l.reg != kNoReg) {
    mov(rax, gpr(l.reg));
  } else {
    mov(rax, qword[rsp + l.slot]);
  }
  if (s.type == tcg::Type::kI32) {
    mov(dword[kEnv + off], eax);
  } else if (s.type == tcg::Type::kF32) {
    mov(dword[kEnv + off], eax);
    mov(dword[kEnv + off + 4], 0xffffffffu);
  } else {
    mov(qword[kEnv + off], rax);
  }
}

Lbl Emitter::emit_fault_stub(int addr_reg, riscv::ExitKind kind, const SyncList& syncs) {
  const uint64_t pc = cur_pc_;
  const uint32_t retired = insn_count_ - 1;
  if (num_fault_stubs_ == fault_stubs_.size()) fault_stubs_.emplace_back();
  FaultStub& f = fault_stubs_[num_fault_stubs_];
  f.addr_reg = addr_reg;
  f.kind = kind;
  f.syncs = syncs;  // copy-assignment keeps the pooled stub's capacity
  f.pc = pc;
  f.retired = retired;
  Cold& c = new_cold();
  c.fault = static_cast<int>(num_fault_stubs_++);
  return c.label;
}

void Emitter::emit_fault_stub_body(const FaultStub& f) {
  if (f.addr_reg == kAddrInScratch) {
    mov(rdx, qword[rsp + kFrameScratch]);
    mov(dword[kEnv + offsetof(CpuState, mem_fault)], 0);
  } else {
    mov(rdx, gpr(f.addr_reg));  // the faulting guest address (info)
  }
  // Everything to CpuState first (sources may be pinned registers that are targets too),
  // then pinned entries back into their registers (the epilogue stores those).
  for (const auto& [s, l] : f.syncs) write_sync_entry(s, l);
  for (const auto& [s, l] : f.syncs) {
    const int r = pinned_of(s.offset);
    if (r != kNoReg) mov(gpr(r), qword[kEnv + s.offset]);
  }
  store_env_imm64(offsetof(CpuState, pc), f.pc);
  add_instret(f.retired);
  jmp_epilogue(static_cast<uint32_t>(ExitCode::kGuest) + static_cast<uint32_t>(f.kind));
}

void Emitter::canonicalize_nan(const Xmm& x, bool f64) {
  if (f64) {
    ucomisd(x, x);
  } else {
    ucomiss(x, x);
  }
  const Lbl back = new_label();
  const Lbl fix = cold([this, x, f64, back] {
    if (f64) {
      movsd(x, qword[rip + &rt_->f64_canonical_nan]);
    } else {
      movss(x, dword[rip + &rt_->f32_canonical_nan]);
    }
    jmp(back, T_NEAR);
  });
  jp(fix, T_NEAR);
  L(back);
}

// ---- the walk ---------------------------------------------------------------------------

size_t Emitter::run(const Ir& ir, const BackendContext& ctx, uint8_t* buf, size_t cap,
                    TbCodeInfo* info) {
  ir_ = &ir;
  ctx_ = &ctx;
  info_ = info;
  rt_ = ctx.buffer->runtime();
  f_ = ctx.features;
  pinned_ = ctx.buffer->pinned();
  pin_ = pinned_ != nullptr;
  gpr_order_.clear();
  for (int r : kGprOrder) {
    if (pin_ && is_pinned_reg(r)) continue;
    gpr_order_.push_back(r);
  }
  reset();
  num_colds_ = 0;
  num_fault_stubs_ = 0;
  label_pos_.clear();
  fixups_.clear();
  labels_.clear();
  sites_.clear();
  shladd_ = {};
  free_slots_.clear();
  goto_stub_[0] = goto_stub_[1] = Lbl{};
  locked_ = 0;
  next_slot_ = 0;
  pos_ = 0;
  cur_pc_ = 0;
  insn_count_ = 0;
  tb_start_ = static_cast<size_t>(buf - getCode());
  setSize(tb_start_);
  const size_t size = emit_tb();
  if (size > cap) throw Xbyak::Error(Xbyak::ERR_CODE_IS_TOO_BIG);
  return size;
}

size_t Emitter::emit_tb() {
  ts_.assign(ir_->temps.size(), TempState{});
  for (int& o : owner_) o = -1;
  compute_uses();
  plan_pinned();
  for (uint32_t i = 0; i < ir_->num_labels; ++i) labels_.push_back(new_label());

  // Entry: leave at once when an exit was requested (this is what stops chained loops).
  cmp(byte[rip + const_cast<uint8_t*>(&rt_->exit_request)], 0);
  const Lbl interrupted = cold([this] {
    store_env_imm64(offsetof(CpuState, pc), ctx_->tb_pc);
    jmp_epilogue(static_cast<uint32_t>(ExitCode::kInterrupt));
  });
  jne(interrupted, T_NEAR);
  if (ctx_->sample) {
    // Every sample_period-th TB entry goes back to the dispatcher, which counts the guest
    // registers of the TB (to choose the pinned ones).
    sub(dword[rip + &rt_->sample_countdown], 1);
    const Lbl sample = cold([this] {
      store_env_imm64(offsetof(CpuState, pc), ctx_->tb_pc);
      jmp_epilogue(static_cast<uint32_t>(ExitCode::kSample));
    });
    jz(sample, T_NEAR);
  }

  for (pos_ = 0; pos_ < ir_->ops.size(); ++pos_) {
    const Op& op = ir_->ops[pos_];
    emit_op(op);
    end_op(op);
  }
  // Cold code (slow paths, fault stubs) after the hot path. Bodies may add more cold code.
  for (size_t i = 0; i < num_colds_; ++i) {
    Cold& c = *colds_[i];
    L(c.label);
    if (c.fault >= 0) {
      emit_fault_stub_body(fault_stubs_[c.fault]);
    } else {
      c.body();
    }
  }
  patch_labels();
  for (const PendingSite& s : sites_) {
    info_->fault_sites.push_back({static_cast<uint32_t>(s.host_offset), label_offset(s.stub)});
  }
  std::sort(info_->fault_sites.begin(), info_->fault_sites.end(),
            [](const FaultSite& a, const FaultSite& b) { return a.host_offset < b.host_offset; });
  for (int slot = 0; slot < 2; ++slot) {
    if (info_->jmp_offset[slot] != ~0u) info_->stub_offset[slot] = label_offset(goto_stub_[slot]);
  }
  return tb_size();
}

void Emitter::patch_labels() {
  uint8_t* const base = const_cast<uint8_t*>(getCode());
  for (const LabelFixup& f : fixups_) {
    const int32_t target = label_pos_[f.label];
    if (target == kUnplaced) throw Xbyak::Error(Xbyak::ERR_LABEL_IS_NOT_FOUND);
    const int32_t rel = target - static_cast<int32_t>(f.at + 4);
    std::memcpy(base + f.at, &rel, sizeof rel);
  }
}

void Emitter::emit_op(const Op& op) {
  switch (op.opc) {
    case Opc::kNop:
      break;
    case Opc::kInsnStart:
      cur_pc_ = static_cast<uint64_t>(op.imm);
      ++insn_count_;
      break;
    case Opc::kMov:
      emit_mov(op);
      break;
    case Opc::kLdGlobal:
      emit_ld_global(op);
      break;
    case Opc::kStGlobal:
      emit_st_global(op);
      break;
    case Opc::kAdd:
    case Opc::kSub:
    case Opc::kMul:
    case Opc::kAnd:
    case Opc::kOr:
    case Opc::kXor:
    case Opc::kAndn:
    case Opc::kOrn:
    case Opc::kXnor:
      emit_alu(op);
      break;
    case Opc::kShl:
    case Opc::kShr:
    case Opc::kSar:
    case Opc::kRotl:
    case Opc::kRotr:
      emit_shift(op);
      break;
    case Opc::kShlAdd:
      emit_shladd(op);
      break;
    case Opc::kNeg:
    case Opc::kNot:
    case Opc::kSext8:
    case Opc::kSext16:
    case Opc::kSext32:
    case Opc::kZext8:
    case Opc::kZext16:
    case Opc::kZext32:
    case Opc::kBswap:
    case Opc::kOrcB:
      emit_unary(op);
      break;
    case Opc::kMulh:
    case Opc::kMulhu:
    case Opc::kMulhsu:
      emit_mulh(op);
      break;
    case Opc::kDiv:
    case Opc::kDivu:
    case Opc::kRem:
    case Opc::kRemu:
      emit_divrem(op);
      break;
    case Opc::kMin:
    case Opc::kMax:
    case Opc::kMinu:
    case Opc::kMaxu:
      emit_minmax(op);
      break;
    case Opc::kSetcc:
      emit_setcc(op);
      break;
    case Opc::kClz:
    case Opc::kCtz:
    case Opc::kPopcnt:
      emit_bitcount(op);
      break;
    case Opc::kLoad:
    case Opc::kStore:
      ctx_->softmmu ? emit_memory_softmmu(op) : emit_memory(op);
      break;
    case Opc::kAmo:
      ctx_->softmmu ? emit_atomic_softmmu(op) : emit_amo(op);
      break;
    case Opc::kLr:
    case Opc::kSc:
      ctx_->softmmu ? emit_atomic_softmmu(op) : emit_lr_sc(op);
      break;
    case Opc::kCall:
      emit_call(op);
      break;
    case Opc::kFence:
      // A locked no-op on the stack: a full barrier like mfence, cheaper on most cores (QEMU's
      // choice too). It clobbers the flags, which no op leaves live for the next one.
      lock();
      or_(dword[rsp], 0);
      break;
    case Opc::kLabel:
      sync_live();
      drop_regs(~0u, true);
      L(labels_[op.imm]);
      break;
    case Opc::kBr:
      sync_live();
      jmp(labels_[op.imm], T_NEAR);
      break;
    case Opc::kBrcond:
      emit_brcond(op);
      break;
    case Opc::kGotoTb:
      emit_goto_tb(op);
      break;
    case Opc::kExitIndirect:
      emit_exit_indirect(op);
      break;
    case Opc::kExit:
      emit_exit(op);
      break;
    case Opc::kFAdd:
    case Opc::kFSub:
    case Opc::kFMul:
    case Opc::kFDiv:
    case Opc::kFSqrt:
      emit_fbinop(op);
      break;
    case Opc::kFMadd:
      emit_fmadd(op);
      break;
    case Opc::kFCmp:
      emit_fcmp(op);
      break;
    case Opc::kFCvtFF:
    case Opc::kFCvtIF:
      emit_fcvt(op);
      break;
    case Opc::kFCvtFI:
      emit_fcvt_fi(op);
      break;
    case Opc::kBitcast:
    case Opc::kBoxF32:
    case Opc::kUnboxF32:
      emit_bitcast(op);
      break;
    case Opc::kCount:
      break;
  }
}

void Emitter::emit_mov(const Op& op) {
  const bool x = is_xmm(op.d);
  if (ir_->is_const(op.a) && !x) {
    int rd = def_reg(op.d);
    mov_imm(gpr(rd), ir_->const_value(op.a));
    return;
  }
  int ra = in_reg(op.a);
  // A dying source: the value just changes owner (unless its register is pinned).
  int rd = dies_here(op.a) && !ir_->is_const(op.a) ? def_reg(op.d, ra) : def_reg(op.d);
  if (rd == ra) return;
  if (x) {
    movaps(xmm(rd), xmm(ra));
  } else if (op.type == tcg::Type::kI32) {
    mov(Reg32(rd), Reg32(ra));
  } else {
    mov(gpr(rd), gpr(ra));
  }
}

void Emitter::emit_ld_global(const Op& op) {
  const int off = static_cast<int>(op.imm);
  const int pr = pinned_of(off);
  if (pr != kNoReg) {
    if (home_[op.d] == pr) {  // alias: the temp is the register
      ts_[op.d].reg = static_cast<int16_t>(pr);
      ts_[op.d].in_mem = false;
      return;
    }
    if (op.type == tcg::Type::kI64) {
      int rd = def_reg(op.d);
      if (rd != pr) mov(gpr(rd), gpr(pr));
      return;
    }
    // Another view of the field (not emitted by the front end): through CpuState.
    spill_pinned(1u << pr);
  }
  int rd = def_reg(op.d);
  switch (op.type) {
    case tcg::Type::kI32:
      mov(Reg32(rd), dword[kEnv + off]);
      break;
    case tcg::Type::kI64:
      mov(gpr(rd), qword[kEnv + off]);
      break;
    case tcg::Type::kF64:
      movsd(xmm(rd), qword[kEnv + off]);
      break;
    case tcg::Type::kF32: {
      // A single-precision read of an f register: canonical NaN unless properly NaN-boxed.
      const Lbl back = new_label();
      Xmm x = xmm(rd);
      cmp(dword[kEnv + off + 4], -1);
      const Lbl bad = cold([this, x, back] {
        movss(x, dword[rip + &rt_->f32_canonical_nan]);
        jmp(back, T_NEAR);
      });
      jne(bad, T_NEAR);
      movss(x, dword[kEnv + off]);
      L(back);
      break;
    }
  }
}

void Emitter::emit_st_global(const Op& op) {
  const int off = static_cast<int>(op.imm);
  const int pr = pinned_of(off);
  if (pr != kNoReg) {
    if (op.type == tcg::Type::kI64) {
      if (ir_->is_const(op.a)) {
        mov_imm(gpr(pr), ir_->const_value(op.a));
        return;
      }
      int ra = in_reg(op.a);
      if (ra != pr) mov(gpr(pr), gpr(ra));
      return;
    }
    // Another view of the field: merge through CpuState.
    spill_pinned(1u << pr);
  }
  if (ir_->is_const(op.a)) {
    write_sync_entry({off, op.type, op.a}, where(op.a));
    if (pr != kNoReg) reload_pinned(1u << pr);
    return;
  }
  int ra = in_reg(op.a);
  if (pr != kNoReg) {
    emit_st_global_env(op, ra);
    reload_pinned(1u << pr);
    return;
  }
  emit_st_global_env(op, ra);
}

void Emitter::emit_st_global_env(const Op& op, int ra) {
  const int off = static_cast<int>(op.imm);
  switch (op.type) {
    case tcg::Type::kI32:
      mov(dword[kEnv + off], Reg32(ra));
      break;
    case tcg::Type::kI64:
      mov(qword[kEnv + off], gpr(ra));
      break;
    case tcg::Type::kF64:
      movsd(qword[kEnv + off], xmm(ra));
      break;
    case tcg::Type::kF32:
      movss(dword[kEnv + off], xmm(ra));
      mov(dword[kEnv + off + 4], 0xffffffffu);
      break;
  }
}

// d = a + (b << aux): one lea, whatever registers hold the operands.
void Emitter::emit_shladd(const Op& op) {
  const int scale = 1 << (op.aux & 3);
  int32_t imm = 0;
  int ra = kNoReg, rb, rd;
  if (imm_operand(op.a, tcg::Type::kI64, &imm)) {
    rb = in_reg(op.b);
    rd = def_reg(op.d);
    lea(gpr(rd), ptr[gpr(rb) * scale + imm]);
  } else {
    ra = in_reg(op.a);
    rb = in_reg(op.b);
    rd = def_reg(op.d);
    lea(gpr(rd), ptr[gpr(ra) + gpr(rb) * scale]);
  }
  shladd_ = {};
  if (rd != ra && rd != rb) shladd_ = {op.d, ra, rb, scale, imm, getSize()};
}

// Registers keep the shladd's inputs until other code is emitted: the load must come next
// with nothing emitted in between (instruction markers and stores to pinned registers that
// were computed in place emit nothing). Reading them after the load's destination is chosen
// is safe: x86 reads the address before writing the destination, and choosing it emits no
// code that writes a register (a spill only stores).
bool Emitter::fused_load_operand(const Op& op, Xbyak::RegExp* out) const {
  if (!ctx_->direct_guest_memory || shladd_.d == kNoTemp || op.a != shladd_.d ||
      shladd_.end != getSize()) {
    return false;
  }
  const int64_t disp = static_cast<int64_t>(shladd_.imm) + op.imm;
  if (disp != static_cast<int32_t>(disp)) return false;
  const auto d32 = static_cast<int32_t>(disp);
  *out = shladd_.ra == kNoReg ? gpr(shladd_.rb) * shladd_.scale + d32
                              : gpr(shladd_.ra) + gpr(shladd_.rb) * shladd_.scale + d32;
  return true;
}

void Emitter::emit_alu(const Op& op) {
  const tcg::Type t = op.type;
  Temp a = op.a, b = op.b;
  const bool commutative = op.opc == Opc::kAdd || op.opc == Opc::kMul || op.opc == Opc::kAnd ||
                           op.opc == Opc::kOr || op.opc == Opc::kXor || op.opc == Opc::kXnor;
  int32_t imm = 0;
  if (commutative && ir_->is_const(a) && !ir_->is_const(b)) std::swap(a, b);
  const bool bimm = imm_operand(b, t, &imm);

  int ra = in_reg(a);
  int rb = bimm ? kNoReg : in_reg(b);

  // add without a dying operand: lea (three-address).
  if (op.opc == Opc::kAdd && !dies_here(a) && !(rb != kNoReg && dies_here(b))) {
    int rd = def_reg(op.d);
    if (t == tcg::Type::kI64) {
      if (bimm) {
        lea(gpr(rd), ptr[gpr(ra) + imm]);
      } else {
        lea(gpr(rd), ptr[gpr(ra) + gpr(rb)]);
      }
    } else {
      if (bimm) {
        lea(Reg32(rd), ptr[gpr(ra) + imm]);
      } else {
        lea(Reg32(rd), ptr[gpr(ra) + gpr(rb)]);
      }
    }
    return;
  }
  int rd;
  if (dies_here(a) && !ir_->is_const(a)) {
    rd = def_reg(op.d, ra);
  } else if (commutative && rb != kNoReg && dies_here(b) && !ir_->is_const(b) &&
             home_[op.d] == kNoReg) {
    std::swap(ra, rb);
    rd = def_reg(op.d, ra);
  } else {
    rd = def_reg(op.d);
  }
  if (rd != ra) {
    if (t == tcg::Type::kI32) {
      mov(Reg32(rd), Reg32(ra));
    } else {
      mov(gpr(rd), gpr(ra));
    }
  }
  const Reg d = gprw(rd, t);
  auto src = [&](auto&& fn) {
    if (bimm) {
      fn(d, imm);
    } else {
      fn(d, gprw(rb, t));
    }
  };
  switch (op.opc) {
    case Opc::kAdd:
      src([&](const Reg& x, const auto& y) { add(x, y); });
      break;
    case Opc::kSub:
      src([&](const Reg& x, const auto& y) { sub(x, y); });
      break;
    case Opc::kAnd:
      src([&](const Reg& x, const auto& y) { and_(x, y); });
      break;
    case Opc::kOr:
      src([&](const Reg& x, const auto& y) { or_(x, y); });
      break;
    case Opc::kXor:
      src([&](const Reg& x, const auto& y) { xor_(x, y); });
      break;
    case Opc::kXnor:
      src([&](const Reg& x, const auto& y) { xor_(x, y); });
      not_(d);
      break;
    case Opc::kMul:
      if (bimm) {
        imul(d, d, imm);
      } else {
        imul(d, gprw(rb, t));
      }
      break;
    case Opc::kAndn:
    case Opc::kOrn:
      if (bimm) {
        if (op.opc == Opc::kAndn) {
          and_(d, ~imm);
        } else {
          or_(d, ~imm);
        }
      } else {
        const Reg s = gprw(0, t);  // rax / eax
        mov(s, gprw(rb, t));
        not_(s);
        if (op.opc == Opc::kAndn) {
          and_(d, s);
        } else {
          or_(d, s);
        }
      }
      break;
    default:
      break;
  }
}

void Emitter::emit_shift(const Op& op) {
  const tcg::Type t = op.type;
  const unsigned mask = t == tcg::Type::kI64 ? 63 : 31;
  int32_t imm = 0;
  if (imm_operand(op.b, tcg::Type::kI64, &imm)) {
    const unsigned n = static_cast<unsigned>(imm) & mask;
    int ra = in_reg(op.a);
    if (f_->bmi2 && (op.opc == Opc::kRotl || op.opc == Opc::kRotr)) {
      int rd = def_reg(op.d, dies_here(op.a) ? ra : kNoReg);
      unsigned r = op.opc == Opc::kRotr ? n : ((mask + 1 - n) & mask);
      rorx(gpre(rd, t), gpre(ra, t), static_cast<uint8_t>(r));
      return;
    }
    const int rd = dies_here(op.a) && !ir_->is_const(op.a) ? def_reg(op.d, ra) : def_reg(op.d);
    if (rd != ra) mov(gprw(rd, t), gprw(ra, t));
    const Reg d = gprw(rd, t);
    switch (op.opc) {
      case Opc::kShl:
        shl(d, n);
        break;
      case Opc::kShr:
        shr(d, n);
        break;
      case Opc::kSar:
        sar(d, n);
        break;
      case Opc::kRotl:
        rol(d, n);
        break;
      case Opc::kRotr:
        ror(d, n);
        break;
      default:
        break;
    }
    return;
  }
  int ra = in_reg(op.a);
  int rb = in_reg(op.b);
  if (f_->bmi2 && (op.opc == Opc::kShl || op.opc == Opc::kShr || op.opc == Opc::kSar)) {
    int reuse = dies_here(op.a) ? ra : (dies_here(op.b) ? rb : kNoReg);
    if (reuse != kNoReg && ir_->is_const(static_cast<Temp>(owner_[reuse]))) reuse = kNoReg;
    int rd = def_reg(op.d, reuse);
    const Xbyak::Reg32e d = gpre(rd, t), s = gpre(ra, t), c = gpre(rb, t);
    switch (op.opc) {
      case Opc::kShl:
        shlx(d, s, c);
        break;
      case Opc::kShr:
        shrx(d, s, c);
        break;
      default:
        sarx(d, s, c);
        break;
    }
    return;
  }
  mov(ecx, Reg32(rb));
  const int rd = dies_here(op.a) && !ir_->is_const(op.a) ? def_reg(op.d, ra) : def_reg(op.d);
  if (rd != ra) mov(gprw(rd, t), gprw(ra, t));
  const Reg d = gprw(rd, t);
  switch (op.opc) {
    case Opc::kShl:
      shl(d, cl);
      break;
    case Opc::kShr:
      shr(d, cl);
      break;
    case Opc::kSar:
      sar(d, cl);
      break;
    case Opc::kRotl:
      rol(d, cl);
      break;
    case Opc::kRotr:
      ror(d, cl);
      break;
    default:
      break;
  }
}

void Emitter::emit_unary(const Op& op) {
  const tcg::Type t = op.type;
  int ra = in_reg(op.a);
  const bool reuse = dies_here(op.a) && !ir_->is_const(op.a);
  int rd = def_reg(op.d, reuse ? ra : kNoReg);
  const Reg64 d = gpr(rd), s = gpr(ra);
  switch (op.opc) {
    case Opc::kNeg:
    case Opc::kNot:
    case Opc::kBswap:
      if (rd != ra) mov(gprw(rd, t), gprw(ra, t));
      if (op.opc == Opc::kNeg) neg(gprw(rd, t));
      if (op.opc == Opc::kNot) not_(gprw(rd, t));
      if (op.opc == Opc::kBswap) bswap(gpre(rd, t));
      break;
    case Opc::kSext8:
      movsx(d, s.cvt8());
      break;
    case Opc::kSext16:
      movsx(d, s.cvt16());
      break;
    case Opc::kSext32:
      movsxd(d, s.cvt32());
      break;
    case Opc::kZext8:
      movzx(d.cvt32(), s.cvt8());
      break;
    case Opc::kZext16:
      movzx(d.cvt32(), s.cvt16());
      break;
    case Opc::kZext32:
      mov(d.cvt32(), s.cvt32());
      break;
    case Opc::kOrcB:
      movq(xmm15, s);
      pxor(xmm14, xmm14);
      pcmpeqb(xmm15, xmm14);
      movq(rax, xmm15);
      not_(rax);
      mov(d, rax);
      break;
    default:
      break;
  }
}

void Emitter::emit_mulh(const Op& op) {
  int ra = in_reg(op.a);
  int rb = in_reg(op.b);
  int rd = def_reg(op.d);
  mov(rax, gpr(ra));
  if (op.opc == Opc::kMulh) {
    imul(gpr(rb));
  } else {
    mul(gpr(rb));
    if (op.opc == Opc::kMulhsu) {
      // signed a: hi(a*b) = hiu(a*b) - (a < 0 ? b : 0)
      mov(rax, gpr(ra));
      sar(rax, 63);
      and_(rax, gpr(rb));
      sub(rdx, rax);
    }
  }
  mov(gpr(rd), rdx);
}

void Emitter::emit_divrem(const Op& op) {
  const tcg::Type t = op.type;
  const bool is_signed = op.opc == Opc::kDiv || op.opc == Opc::kRem;
  const bool want_rem = op.opc == Opc::kRem || op.opc == Opc::kRemu;
  const Reg ax = gprw(0, t), dx = gprw(2, t);
  int ra = in_reg(op.a);
  int rb = in_reg(op.b);
  int rd = def_reg(op.d);
  const Reg A = gprw(ra, t), B = gprw(rb, t);
  const Lbl done = new_label();
  mov(ax, A);
  // Division by zero: quotient all ones, remainder the dividend.
  const Lbl zero = cold([this, want_rem, ax, dx, done] {
    if (want_rem) {
      mov(dx, ax);
    } else {
      mov(ax, -1);
    }
    jmp(done, T_NEAR);
  });
  test(B, B);
  jz(zero, T_NEAR);
  if (is_signed) {
    // x / -1 (including MIN / -1, which traps on x86): quotient -x, remainder 0.
    const Lbl minus1 = cold([this, want_rem, ax, dx, done] {
      if (want_rem) {
        xor_(edx, edx);
      } else {
        neg(ax);
      }
      jmp(done, T_NEAR);
    });
    cmp(B, -1);
    je(minus1, T_NEAR);
    if (t == tcg::Type::kI64) {
      cqo();
    } else {
      cdq();
    }
    idiv(B);
  } else {
    xor_(edx, edx);
    div(B);
  }
  L(done);
  mov(gprw(rd, t), want_rem ? dx : ax);
}

void Emitter::emit_minmax(const Op& op) {
  const tcg::Type t = op.type;
  int ra = in_reg(op.a);
  int rb = in_reg(op.b);
  int rd = def_reg(op.d);
  const Reg ax = gprw(0, t), A = gprw(ra, t), B = gprw(rb, t);
  mov(ax, A);
  cmp(ax, B);
  switch (op.opc) {
    case Opc::kMin:
      cmovg(ax, B);
      break;
    case Opc::kMax:
      cmovl(ax, B);
      break;
    case Opc::kMinu:
      cmova(ax, B);
      break;
    default:
      cmovb(ax, B);
      break;
  }
  mov(gprw(rd, t), ax);
}

void Emitter::cmp_operands(Temp a, Temp b, tcg::Type type, Cond* cond) {
  int32_t imm = 0;
  if (ir_->is_const(a) && !ir_->is_const(b)) {
    std::swap(a, b);
    *cond = swap_operands(*cond);
  }
  int ra = in_reg(a);
  if (imm_operand(b, type, &imm)) {
    if (imm == 0 && (*cond == Cond::kEq || *cond == Cond::kNe)) {
      test(gprw(ra, type), gprw(ra, type));
    } else {
      cmp(gprw(ra, type), imm);
    }
  } else {
    int rb = in_reg(b);
    cmp(gprw(ra, type), gprw(rb, type));
  }
}

void Emitter::emit_setcc(const Op& op) {
  Cond c = static_cast<Cond>(op.aux);
  cmp_operands(op.a, op.b, op.type, &c);
  int rd = def_reg(op.d);
  switch (c) {
    case Cond::kEq:
      sete(al);
      break;
    case Cond::kNe:
      setne(al);
      break;
    case Cond::kLt:
      setl(al);
      break;
    case Cond::kGe:
      setge(al);
      break;
    case Cond::kLe:
      setle(al);
      break;
    case Cond::kGt:
      setg(al);
      break;
    case Cond::kLtu:
      setb(al);
      break;
    case Cond::kGeu:
      setae(al);
      break;
    case Cond::kLeu:
      setbe(al);
      break;
    case Cond::kGtu:
      seta(al);
      break;
  }
  movzx(Reg32(rd), al);
}

void Emitter::emit_bitcount(const Op& op) {
  const tcg::Type t = op.type;
  const unsigned width = t == tcg::Type::kI64 ? 64 : 32;
  int ra = in_reg(op.a);
  int rd = def_reg(op.d, dies_here(op.a) && !ir_->is_const(op.a) ? ra : kNoReg);
  const Reg D = gprw(rd, t), A = gprw(ra, t), ax = gprw(0, t), cx = gprw(1, t);
  switch (op.opc) {
    case Opc::kClz:
      if (f_->lzcnt) {
        lzcnt(D, A);
      } else {
        bsr(ax, A);
        mov(cx, -1);
        cmovz(ax, cx);
        mov(D, width - 1);
        sub(D, ax);
      }
      break;
    case Opc::kCtz:
      if (f_->bmi1) {
        tzcnt(D, A);
      } else {
        bsf(ax, A);
        mov(cx, width);
        cmovz(ax, cx);
        mov(D, ax);
      }
      break;
    default:
      if (f_->popcnt) {
        popcnt(D, A);
      } else {
        // Bit-slice population count in rax with rcx/rdx as temporaries.
        mov(ax, A);
        mov(cx, ax);
        shr(cx, 1);
        mov(rdx, 0x5555555555555555ull);
        and_(cx, gprw(2, t));
        sub(ax, cx);
        mov(rdx, 0x3333333333333333ull);
        mov(cx, ax);
        and_(ax, gprw(2, t));
        shr(cx, 2);
        and_(cx, gprw(2, t));
        add(ax, cx);
        mov(cx, ax);
        shr(cx, 4);
        add(ax, cx);
        mov(rdx, 0x0f0f0f0f0f0f0f0full);
        and_(ax, gprw(2, t));
        mov(rdx, 0x0101010101010101ull);
        imul(ax, gprw(2, t));
        shr(ax, width - 8);
        mov(D, ax);
      }
      break;
  }
}

int Emitter::address_reg(const Op& op) {
  if (ir_->is_const(op.a)) {
    mov_imm(rcx, ir_->const_value(op.a) + static_cast<uint64_t>(op.imm));
    return 1;
  }
  int ra = in_reg(op.a);
  if (op.imm == 0) return ra;
  if (fits_i32(static_cast<uint64_t>(op.imm))) {
    lea(rcx, ptr[gpr(ra) + static_cast<int32_t>(op.imm)]);
  } else {
    mov(rcx, static_cast<uint64_t>(op.imm));
    add(rcx, gpr(ra));
  }
  return 1;
}

void Emitter::bounds_check(const Reg64& addr, Lbl fault) {
  cmp(addr, qword[kEnv + offsetof(CpuState, guest_limit)]);
  jae(fault, T_NEAR);
}

void Emitter::emit_memory(const Op& op) {
  const bool is_load = op.opc == Opc::kLoad;
  Xbyak::RegExp fused;
  const bool is_fused = is_load && fused_load_operand(op, &fused);
  int ar = address_reg(op);
  int rv = kNoReg;
  int32_t imm = 0;
  bool vimm = false;
  if (!is_load) {
    vimm = !is_float_type(op.type) && imm_operand(op.b, tcg::Type::kI64, &imm);
    if (!vimm) rv = in_reg(op.b);
  }
  int rd = is_load ? def_reg(op.d) : kNoReg;
  const SyncList& syncs = capture_syncs(op);
  const auto kind = is_load ? riscv::ExitKind::kLoadFault : riscv::ExitKind::kStoreFault;
  const Lbl stub = emit_fault_stub(ar, kind, syncs);
  const Reg64 A = gpr(ar);
  bounds_check(A, stub);
  sites_.push_back({tb_size(), stub});
  const unsigned size = memop_size(op.aux);
  const Xbyak::RegExp M = is_fused ? fused : guest_operand(A);
  if (is_load) {
    if (is_float_type(op.type)) {
      if (op.type == tcg::Type::kF32) {
        movss(xmm(rd), dword[M]);
      } else {
        movsd(xmm(rd), qword[M]);
      }
      return;
    }
    const Reg64 D = gpr(rd);
    const bool sgn = op.aux & kMemSigned;
    switch (size) {
      case 1:
        sgn ? movsx(D, byte[M]) : movzx(D.cvt32(), byte[M]);
        break;
      case 2:
        sgn ? movsx(D, word[M]) : movzx(D.cvt32(), word[M]);
        break;
      case 4:
        sgn ? movsxd(D, dword[M]) : mov(D.cvt32(), dword[M]);
        break;
      default:
        mov(D, qword[M]);
        break;
    }
    return;
  }
  if (is_float_type(op.type)) {
    if (size == 4) {
      movss(dword[M], xmm(rv));
    } else {
      movsd(qword[M], xmm(rv));
    }
    return;
  }
  if (vimm) {
    switch (size) {
      case 1:
        mov(byte[M], imm & 0xff);
        break;
      case 2:
        mov(word[M], imm & 0xffff);
        break;
      case 4:
        mov(dword[M], static_cast<uint32_t>(imm));
        break;
      default:
        mov(qword[M], static_cast<uint64_t>(static_cast<int64_t>(imm)));
        break;
    }
    return;
  }
  const Reg64 V = gpr(rv);
  switch (size) {
    case 1:
      mov(byte[M], V.cvt8());
      break;
    case 2:
      mov(word[M], V.cvt16());
      break;
    case 4:
      mov(dword[M], V.cvt32());
      break;
    default:
      mov(qword[M], V);
      break;
  }
}

// Full-system loads and stores: the inline software-TLB lookup (accel/tcg/softmmu.h).
//   rdx = byte offset of the entry, rax = the address masked to its page plus the low bits that
//   make the access misaligned; a tag equal to that is a hit: host = address + addend.
// Everything else goes to the slow-path helper through the register-preserving thunk.
void Emitter::emit_memory_softmmu(const Op& op) {
  const bool is_load = op.opc == Opc::kLoad;
  const int ar = address_reg(op);
  int rv = kNoReg;
  int32_t imm = 0;
  bool vimm = false;
  if (!is_load) {
    vimm = !is_float_type(op.type) && imm_operand(op.b, tcg::Type::kI64, &imm);
    if (!vimm) rv = in_reg(op.b);
  }
  const int rd = is_load ? def_reg(op.d) : kNoReg;
  const SyncList& syncs = capture_syncs(op);
  const auto kind = is_load ? riscv::ExitKind::kLoadFault : riscv::ExitKind::kStoreFault;
  const Lbl stub = emit_fault_stub(kAddrInScratch, kind, syncs);
  const Reg64 A = gpr(ar);
  const unsigned size = memop_size(op.aux);
  const int table =
      static_cast<int>((ctx_->tb_flags & tb_flags::kDataContextMask)) * kTlbContextStride;
  const int tag = table + static_cast<int>(offsetof(SoftTlbEntry, tag)) + (is_load ? 0 : 8);
  const int addend = table + static_cast<int>(offsetof(SoftTlbEntry, addend));
  static_assert(sizeof(SoftTlbEntry) == 32);

  const Lbl done = new_label();
  const bool is_fp = is_float_type(op.type);
  const uint8_t memop = op.aux;
  const void* helper =
      reinterpret_cast<const void*>(is_load ? ctx_->softmmu->load : ctx_->softmmu->store);
  const Lbl slow = cold([this, A, rv, rd, vimm, imm, is_load, is_fp, memop, helper, stub, done] {
    mov(qword[rsp + kFrameScratch], A);
    mov(qword[rsp + kFrameScratch + 8], memop);
    if (!is_load) {
      if (vimm) {
        mov(qword[rsp + kFrameScratch + 16], imm);
      } else if (is_fp) {
        movsd(qword[rsp + kFrameScratch + 16], xmm(rv));
      } else {
        mov(qword[rsp + kFrameScratch + 16], gpr(rv));
      }
    }
    mov(rax, reinterpret_cast<uint64_t>(helper));
    call(reinterpret_cast<const void*>(ctx_->buffer->save_all_thunk()));
    cmp(dword[kEnv + offsetof(CpuState, mem_fault)], 0);
    jne(stub, T_NEAR);
    if (is_load) {
      if (is_fp) {
        movq(xmm(rd), rax);
      } else {
        mov(gpr(rd), rax);
      }
    }
    jmp(done, T_NEAR);
  });
  mov(rdx, A);
  shr(rdx, 12 - 5);
  and_(edx, (kTlbSize - 1) << 5);
  mov(rax, A);
  and_(rax, static_cast<int32_t>(0xfffff000u | (size - 1)));
  cmp(rax, qword[kGuestBase + rdx + tag]);
  jne(slow, T_NEAR);
  mov(rax, qword[kGuestBase + rdx + addend]);
  const auto m = [&](unsigned bytes) {
    switch (bytes) {
      case 1:
        return byte[rax + A];
      case 2:
        return word[rax + A];
      case 4:
        return dword[rax + A];
      default:
        return qword[rax + A];
    }
  };
  if (is_load) {
    if (is_fp) {
      op.type == tcg::Type::kF32 ? movss(xmm(rd), m(4)) : movsd(xmm(rd), m(8));
    } else {
      const Reg64 D = gpr(rd);
      const bool sgn = op.aux & kMemSigned;
      switch (size) {
        case 1:
          sgn ? movsx(D, m(1)) : movzx(D.cvt32(), m(1));
          break;
        case 2:
          sgn ? movsx(D, m(2)) : movzx(D.cvt32(), m(2));
          break;
        case 4:
          sgn ? movsxd(D, m(4)) : mov(D.cvt32(), m(4));
          break;
        default:
          mov(D, m(8));
          break;
      }
    }
  } else if (is_fp) {
    size == 4 ? movss(m(4), xmm(rv)) : movsd(m(8), xmm(rv));
  } else if (vimm) {
    switch (size) {
      case 1:
        mov(m(1), imm & 0xff);
        break;
      case 2:
        mov(m(2), imm & 0xffff);
        break;
      case 4:
        mov(m(4), static_cast<uint32_t>(imm));
        break;
      default:
        mov(m(8), imm);
        break;
    }
  } else {
    const Reg64 V = gpr(rv);
    switch (size) {
      case 1:
        mov(m(1), V.cvt8());
        break;
      case 2:
        mov(m(2), V.cvt16());
        break;
      case 4:
        mov(m(4), V.cvt32());
        break;
      default:
        mov(m(8), V);
        break;
    }
  }
  L(done);
}

// Full-system atomics: always the helper (it checks alignment, translates for a store,
// keeps the LR/SC reservation in CpuState and does the operation atomically on RAM).
void Emitter::emit_atomic_softmmu(const Op& op) {
  const int ar = in_reg(op.a);
  const int rv = op.opc == Opc::kLr ? kNoReg : in_reg(op.b);
  const int rd = def_reg(op.d);
  const SyncList& syncs = capture_syncs(op);
  const auto kind = op.opc == Opc::kLr ? riscv::ExitKind::kLoadFault : riscv::ExitKind::kStoreFault;
  const Lbl fault = emit_fault_stub(kAddrInScratch, kind, syncs);
  const Lbl misaligned = emit_fault_stub(kAddrInScratch, riscv::ExitKind::kMisaligned, syncs);
  mov(qword[rsp + kFrameScratch], gpr(ar));
  if (rv != kNoReg) {
    mov(qword[rsp + kFrameScratch + 8], gpr(rv));
  } else {
    mov(qword[rsp + kFrameScratch + 8], 0);
  }
  mov(qword[rsp + kFrameScratch + 16],
      static_cast<int32_t>(atomic_desc(static_cast<uint32_t>(op.opc), op.aux, op.aux2)));
  mov(rax, reinterpret_cast<uint64_t>(ctx_->softmmu->atomic));
  call(reinterpret_cast<const void*>(ctx_->buffer->save_all_thunk()));
  mov(ecx, dword[kEnv + offsetof(CpuState, mem_fault)]);
  cmp(ecx, kMemFaultMisaligned);
  je(misaligned, T_NEAR);
  test(ecx, ecx);
  jnz(fault, T_NEAR);
  mov(gpr(rd), rax);
}

void Emitter::emit_amo(const Op& op) {
  const unsigned size = memop_size(op.aux);
  const bool word = size == 4;
  int ar = in_reg(op.a);
  int rv = in_reg(op.b);
  int rd = def_reg(op.d);
  const SyncList& syncs = capture_syncs(op);
  const Lbl fault = emit_fault_stub(ar, riscv::ExitKind::kStoreFault, syncs);
  const Lbl misaligned = emit_fault_stub(ar, riscv::ExitKind::kMisaligned, syncs);
  const Reg64 A = gpr(ar);
  test(A.cvt32(), size - 1);
  jnz(misaligned, T_NEAR);
  bounds_check(A, fault);
  const Reg ax = word ? Reg(eax) : Reg(rax);
  const Reg dx = word ? Reg(edx) : Reg(rdx);
  const Reg V = word ? Reg(gpr(rv).cvt32()) : Reg(gpr(rv));
  const auto mem = word ? dword[guest_operand(A)] : qword[guest_operand(A)];
  const auto kind = static_cast<AmoKind>(op.aux2);
  if (kind == AmoKind::kSwap || kind == AmoKind::kAdd) {
    mov(ax, V);
    sites_.push_back({tb_size(), fault});
    if (kind == AmoKind::kSwap) {
      xchg(mem, ax);
    } else {
      lock();
      xadd(mem, ax);
    }
  } else {
    sites_.push_back({tb_size(), fault});
    mov(ax, mem);
    const Lbl retry = new_label();
    L(retry);
    mov(dx, ax);
    switch (kind) {
      case AmoKind::kXor:
        xor_(dx, V);
        break;
      case AmoKind::kAnd:
        and_(dx, V);
        break;
      case AmoKind::kOr:
        or_(dx, V);
        break;
      case AmoKind::kMin:
        cmp(dx, V);
        cmovg(dx, V);
        break;
      case AmoKind::kMax:
        cmp(dx, V);
        cmovl(dx, V);
        break;
      case AmoKind::kMinu:
        cmp(dx, V);
        cmova(dx, V);
        break;
      default:
        cmp(dx, V);
        cmovb(dx, V);
        break;
    }
    sites_.push_back({tb_size(), fault});
    lock();
    cmpxchg(mem, dx);
    jne(retry);
  }
  if (word) {
    movsxd(gpr(rd), eax);
  } else {
    mov(gpr(rd), rax);
  }
}

void Emitter::emit_lr_sc(const Op& op) {
  const unsigned size = memop_size(op.aux);
  const bool word = size == 4;
  int ar = in_reg(op.a);
  int rv = op.opc == Opc::kSc ? in_reg(op.b) : kNoReg;
  int rd = def_reg(op.d);
  const SyncList& syncs = capture_syncs(op);
  const auto fault_kind =
      op.opc == Opc::kLr ? riscv::ExitKind::kLoadFault : riscv::ExitKind::kStoreFault;
  const Lbl fault = emit_fault_stub(ar, fault_kind, syncs);
  const Lbl misaligned = emit_fault_stub(ar, riscv::ExitKind::kMisaligned, syncs);
  const Reg64 A = gpr(ar), D = gpr(rd);
  const int r_addr = offsetof(CpuState, reservation_addr);
  const int r_value = offsetof(CpuState, reservation_value);
  const int r_valid = offsetof(CpuState, reservation_valid);
  if (op.opc == Opc::kLr) {
    test(A.cvt32(), size - 1);
    jnz(misaligned, T_NEAR);
    bounds_check(A, fault);
    sites_.push_back({tb_size(), fault});
    if (word) {
      movsxd(rax, dword[guest_operand(A)]);
    } else {
      mov(rax, qword[guest_operand(A)]);
    }
    mov(qword[kEnv + r_addr], A);
    mov(qword[kEnv + r_value], rax);
    mov(byte[kEnv + r_valid], 1);
    mov(D, rax);
    return;
  }
  // sc: alignment first, then the reservation, then permissions (like the interpreter).
  const Lbl fail = new_label(), done = new_label();
  test(A.cvt32(), size - 1);
  jnz(misaligned, T_NEAR);
  cmp(byte[kEnv + r_valid], 0);
  mov(byte[kEnv + r_valid], 0);
  je(fail, T_NEAR);
  cmp(qword[kEnv + r_addr], A);
  jne(fail, T_NEAR);
  // A matching reservation implies an aligned address (lr checked it).
  bounds_check(A, fault);
  mov(rax, qword[kEnv + r_value]);
  if (word) {
    // The word must read back as the reserved value, sign-extended (a reservation taken by
    // lr.d may hold a value no word has).
    movsxd(rcx, eax);
    cmp(rcx, rax);
    jne(fail, T_NEAR);
  }
  sites_.push_back({tb_size(), fault});
  lock();
  if (word) {
    cmpxchg(dword[guest_operand(A)], gpr(rv).cvt32());
  } else {
    cmpxchg(qword[guest_operand(A)], gpr(rv));
  }
  jne(fail, T_NEAR);
  xor_(D.cvt32(), D.cvt32());
  jmp(done, T_NEAR);
  L(fail);
  mov(D.cvt32(), 1);
  L(done);
}

void Emitter::emit_call(const Op& op) {
  // Arguments to the scratch area first (their registers may be caller-saved).
  const Temp args[3] = {op.a, op.b, op.c};
  for (int i = 0; i < 3; ++i) {
    Temp t = args[i];
    if (t == kNoTemp || ir_->is_const(t)) continue;
    int r = in_reg(t);
    if (r >= kXmmBase) {
      movsd(qword[rsp + kFrameScratch + 8 * i], xmm(r));
    } else {
      mov(qword[rsp + kFrameScratch + 8 * i], gpr(r));
    }
  }
  // Values live after the call must survive it.
  for (int r = 0; r < 32; ++r) {
    if (owner_[r] < 0) continue;
    if (r < kXmmBase && !(kCallerSavedGprs & (1u << r))) continue;
    Temp t = static_cast<Temp>(owner_[r]);
    if (!ir_->is_const(t) && !ts_[t].in_mem && next_use(t) != kInf) store_to_slot(t);
  }
  drop_regs(kCallerSavedGprs, true);
  locked_ = 0;
  // Pinned guest state: caller-saved registers do not survive the call, and a helper that
  // reads or writes guest registers does so in CpuState.
  const uint32_t pinned = pinned_mask(!(op.aux & (kCallReadsEnv | kCallWritesEnv)));
  spill_pinned(pinned);
  static const Reg64 kArgRegs[] = {rdi, rsi, rdx, rcx};
  int n = 0;
  if (op.aux & kCallPassEnv) mov(kArgRegs[n++], kEnv);
  for (int i = 0; i < 3; ++i) {
    Temp t = args[i];
    if (t == kNoTemp) continue;
    const Reg64 r = kArgRegs[n++];
    if (ir_->is_const(t)) {
      mov_imm(r, ir_->const_value(t));
    } else {
      mov(r, qword[rsp + kFrameScratch + 8 * i]);
    }
  }
  mov(rax, static_cast<uint64_t>(op.imm));
  call(rax);
  reload_pinned(pinned);
  if (op.d != kNoTemp) {
    int rd = def_reg(op.d);
    if (rd >= kXmmBase) {
      movq(xmm(rd), rax);
    } else if (op.type == tcg::Type::kI32) {
      mov(Reg32(rd), eax);
    } else {
      mov(gpr(rd), rax);
    }
  }
}

void Emitter::emit_brcond(const Op& op) {
  Cond c = static_cast<Cond>(op.aux);
  // Load operands, then make every live value memory-resident (the label expects that), then
  // compare: the stores do not disturb the flags but keep cmp+jcc adjacent for fusion.
  if (!ir_->is_const(op.a)) in_reg(op.a);
  int32_t imm = 0;
  if (!imm_operand(op.b, op.type, &imm)) in_reg(op.b);
  sync_live();
  cmp_operands(op.a, op.b, op.type, &c);
  const Lbl target = labels_[op.imm];
  switch (c) {
    case Cond::kEq:
      je(target, T_NEAR);
      break;
    case Cond::kNe:
      jne(target, T_NEAR);
      break;
    case Cond::kLt:
      jl(target, T_NEAR);
      break;
    case Cond::kGe:
      jge(target, T_NEAR);
      break;
    case Cond::kLe:
      jle(target, T_NEAR);
      break;
    case Cond::kGt:
      jg(target, T_NEAR);
      break;
    case Cond::kLtu:
      jb(target, T_NEAR);
      break;
    case Cond::kGeu:
      jae(target, T_NEAR);
      break;
    case Cond::kLeu:
      jbe(target, T_NEAR);
      break;
    case Cond::kGtu:
      ja(target, T_NEAR);
      break;
  }
}

void Emitter::emit_goto_tb(const Op& op) {
  const unsigned slot = op.aux & 1;
  const uint64_t target = static_cast<uint64_t>(op.imm);
  add_instret(insn_count_);
  // The rel32 of the jump must be 4-byte aligned so that patching it is a single store.
  while ((reinterpret_cast<uintptr_t>(getCurr()) + 1) % 4 != 0) nop();
  info_->jmp_offset[slot] = static_cast<uint32_t>(tb_size());
  const Lbl stub = cold([this, slot, target] {
    store_env_imm64(offsetof(CpuState, pc), target);
    mov(rdx, static_cast<uint64_t>(ctx_->tb_cookie | slot));
    jmp_epilogue(static_cast<uint32_t>(ExitCode::kChain));
  });
  jmp(stub, T_NEAR);
  goto_stub_[slot] = stub;
}

void Emitter::emit_exit_indirect(const Op& op) {
  if (ir_->is_const(op.a)) {
    mov_imm(rax, ir_->const_value(op.a));
  } else {
    mov(rax, gpr(in_reg(op.a)));
  }
  add_instret(insn_count_);
  mov(ecx, eax);
  and_(ecx, (kJumpCacheSize - 1) << 1);
  lea(rdx, ptr[rip + rt_->jump_cache]);
  const Lbl miss = new_label();
  if (ctx_->tb_flags) {
    lea(rdx, ptr[rdx + rcx * 8]);
    mov(rcx, static_cast<uint64_t>(ctx_->tb_flags) << 56);
    xor_(rcx, rax);
    cmp(qword[rdx], rcx);
    jne(miss, T_NEAR);
    jmp(qword[rdx + 8]);
  } else {
    cmp(qword[rdx + rcx * 8], rax);
    jne(miss, T_NEAR);
    jmp(qword[rdx + rcx * 8 + 8]);
  }
  L(miss);
  mov(qword[kEnv + offsetof(CpuState, pc)], rax);
  jmp_epilogue(static_cast<uint32_t>(ExitCode::kLookup));
}

void Emitter::emit_exit(const Op& op) {
  const uint32_t code = op.aux;
  if (op.a != kNoTemp) {
    if (ir_->is_const(op.a)) {
      mov_imm(rdx, ir_->const_value(op.a));
    } else {
      mov(rdx, gpr(in_reg(op.a)));
    }
  } else {
    xor_(edx, edx);
  }
  store_env_imm64(offsetof(CpuState, pc), static_cast<uint64_t>(op.imm));
  add_instret(op.aux2 ? insn_count_ : insn_count_ - 1);
  jmp_epilogue(code);
}

void Emitter::emit_fbinop(const Op& op) {
  const bool d64 = op.type == tcg::Type::kF64;
  int ra = in_reg(op.a);
  if (op.opc == Opc::kFSqrt) {
    int rd = def_reg(op.d, dies_here(op.a) && !ir_->is_const(op.a) ? ra : kNoReg);
    if (d64) {
      sqrtsd(xmm(rd), xmm(ra));
    } else {
      sqrtss(xmm(rd), xmm(ra));
    }
    canonicalize_nan(xmm(rd), d64);
    return;
  }
  int rb = in_reg(op.b);
  int rd;
  if (dies_here(op.a) && !ir_->is_const(op.a) && op.a != op.b) {
    rd = def_reg(op.d, ra);
  } else {
    rd = def_reg(op.d);
  }
  if (f_->avx) {
    const Xmm d = xmm(rd), a = xmm(ra), b = xmm(rb);
    switch (op.opc) {
      case Opc::kFAdd:
        d64 ? vaddsd(d, a, b) : vaddss(d, a, b);
        break;
      case Opc::kFSub:
        d64 ? vsubsd(d, a, b) : vsubss(d, a, b);
        break;
      case Opc::kFMul:
        d64 ? vmulsd(d, a, b) : vmulss(d, a, b);
        break;
      default:
        d64 ? vdivsd(d, a, b) : vdivss(d, a, b);
        break;
    }
  } else {
    Xmm d = xmm(rd);
    Xmm b = xmm(rb);
    if (rd != ra) movaps(d, xmm(ra));
    switch (op.opc) {
      case Opc::kFAdd:
        d64 ? addsd(d, b) : addss(d, b);
        break;
      case Opc::kFSub:
        d64 ? subsd(d, b) : subss(d, b);
        break;
      case Opc::kFMul:
        d64 ? mulsd(d, b) : mulss(d, b);
        break;
      default:
        d64 ? divsd(d, b) : divss(d, b);
        break;
    }
  }
  canonicalize_nan(xmm(rd), d64);
}

void Emitter::emit_fmadd(const Op& op) {
  // Only emitted when the host has FMA3 (the front end calls a helper otherwise).
  const bool d64 = op.type == tcg::Type::kF64;
  int ra = in_reg(op.a), rb = in_reg(op.b), rc = in_reg(op.c);
  int rd = def_reg(op.d);
  const Xmm d = xmm(rd);
  movaps(d, xmm(rc));
  const Xmm a = xmm(ra), b = xmm(rb);
  // RISC-V: 0 a*b+c, 1 a*b-c, 2 -(a*b)+c, 3 -(a*b)-c.
  switch (op.aux) {
    case 0:
      d64 ? vfmadd231sd(d, a, b) : vfmadd231ss(d, a, b);
      break;
    case 1:
      d64 ? vfmsub231sd(d, a, b) : vfmsub231ss(d, a, b);
      break;
    case 2:
      d64 ? vfnmadd231sd(d, a, b) : vfnmadd231ss(d, a, b);
      break;
    default:
      d64 ? vfnmsub231sd(d, a, b) : vfnmsub231ss(d, a, b);
      break;
  }
  canonicalize_nan(d, d64);
}

void Emitter::emit_fcmp(const Op& op) {
  const bool d64 = op.aux2 != 0;
  int ra = in_reg(op.a), rb = in_reg(op.b);
  int rd = def_reg(op.d);
  const Xmm a = xmm(ra), b = xmm(rb);
  switch (static_cast<FCmp>(op.aux)) {
    case FCmp::kEq:  // quiet: invalid only for signalling NaNs, like ucomis
      d64 ? ucomisd(a, b) : ucomiss(a, b);
      sete(al);
      setnp(cl);
      and_(al, cl);
      break;
    case FCmp::kLt:  // signalling: comis raises invalid for any NaN
      d64 ? comisd(b, a) : comiss(b, a);
      seta(al);
      break;
    case FCmp::kLe:
      d64 ? comisd(b, a) : comiss(b, a);
      setae(al);
      break;
  }
  movzx(Reg32(rd), al);
}

void Emitter::emit_fcvt(const Op& op) {
  int ra = in_reg(op.a);
  int rd = def_reg(op.d);
  const Xmm d = xmm(rd);
  const bool d64 = op.type == tcg::Type::kF64;
  if (op.opc == Opc::kFCvtFF) {
    if (d64) {
      cvtss2sd(d, xmm(ra));
    } else {
      cvtsd2ss(d, xmm(ra));
    }
    canonicalize_nan(d, d64);
    return;
  }
  // Integer to float (round to nearest even via MXCSR). aux2: 0 i32, 1 u32, 2 i64.
  const Reg64 s = gpr(ra);
  xorps(d, d);
  switch (op.aux2) {
    case 0:
      d64 ? cvtsi2sd(d, s.cvt32()) : cvtsi2ss(d, s.cvt32());
      break;
    case 1:
      mov(eax, s.cvt32());
      d64 ? cvtsi2sd(d, rax) : cvtsi2ss(d, rax);
      break;
    default:
      d64 ? cvtsi2sd(d, s) : cvtsi2ss(d, s);
      break;
  }
}

void Emitter::emit_fcvt_fi(const Op& op) {
  // Float to integer, round toward zero. Values the fast path cannot convert exactly (NaN,
  // out of range) go to the exact helper passed in op.imm through the register-preserving
  // thunk, before x86 raises its own (different) flags.
  const bool s64 = op.aux != 0;  // source is kF64
  int ra = in_reg(op.a);
  int rd = def_reg(op.d);
  const Xmm a = xmm(ra);
  const Reg64 D = gpr(rd);
  const uint8_t kind = op.aux2;  // 0 i32, 1 u32, 2 i64, 3 u64
  const void* helper = reinterpret_cast<const void*>(op.imm);
  const Lbl done = new_label();
  const Lbl slow = cold([this, a, s64, D, helper, done] {
    if (s64) {
      movsd(qword[rsp + kFrameScratch], a);
    } else {
      movss(dword[rsp + kFrameScratch], a);
      mov(dword[rsp + kFrameScratch + 4], 0);
    }
    mov(rax, reinterpret_cast<uint64_t>(helper));
    call(reinterpret_cast<const void*>(ctx_->buffer->save_all_thunk()));
    mov(D, rax);
    jmp(done, T_NEAR);
  });
  // Range check first, so that x86 raises no flags of its own for values it cannot convert:
  // upper bound exclusive; lower bound exclusive for unsigned kinds and for f64 -> i32
  // (-2^31 - 1 is a double), inclusive otherwise. NaN compares unordered (PF).
  const bool strict_lower = kind == 1 || kind == 3 || (kind == 0 && s64);
  if (s64) {
    ucomisd(a, qword[rip + &rt_->f64_bounds[kind][0]]);
  } else {
    ucomiss(a, dword[rip + &rt_->f32_bounds[kind][0]]);
  }
  jae(slow, T_NEAR);  // a >= upper (unordered does not take jae: jp below)
  jp(slow, T_NEAR);
  if (s64) {
    ucomisd(a, qword[rip + &rt_->f64_bounds[kind][1]]);
  } else {
    ucomiss(a, dword[rip + &rt_->f32_bounds[kind][1]]);
  }
  if (strict_lower) {
    jbe(slow, T_NEAR);
  } else {
    jb(slow, T_NEAR);
  }
  if (s64) {
    cvttsd2si(rax, a);
  } else {
    cvttss2si(rax, a);
  }
  if (kind <= 1) {
    movsxd(D, eax);  // the W forms write their 32-bit result sign-extended
  } else {
    mov(D, rax);
  }
  L(done);
}

void Emitter::emit_bitcast(const Op& op) {
  int ra = in_reg(op.a);
  int rd = def_reg(op.d);
  switch (op.opc) {
    case Opc::kBitcast:
      if (rd >= kXmmBase && ra >= kXmmBase) {
        movaps(xmm(rd), xmm(ra));
      } else if (rd >= kXmmBase) {
        if (op.type == tcg::Type::kF32) {
          movd(xmm(rd), Reg32(ra));
        } else {
          movq(xmm(rd), gpr(ra));
        }
      } else if (ra >= kXmmBase) {
        if (op.type == tcg::Type::kI32) {
          movd(Reg32(rd), xmm(ra));
        } else {
          movq(gpr(rd), xmm(ra));
        }
      } else {
        mov(gpr(rd), gpr(ra));
      }
      break;
    case Opc::kBoxF32:
      movd(Reg32(rd), xmm(ra));
      mov(rax, 0xffffffff00000000ull);
      or_(gpr(rd), rax);
      break;
    default: {  // kUnboxF32
      const Lbl back = new_label();
      const Xmm d = xmm(rd);
      mov(rax, gpr(ra));
      shr(rax, 32);
      cmp(eax, -1);
      const Lbl bad = cold([this, d, back] {
        movss(d, dword[rip + &rt_->f32_canonical_nan]);
        jmp(back, T_NEAR);
      });
      jne(bad, T_NEAR);
      movd(d, Reg32(ra));
      L(back);
      break;
    }
  }
}

}  // namespace detail

X86Backend::X86Backend() = default;
X86Backend::~X86Backend() = default;

size_t X86Backend::generate(const Ir& ir, const BackendContext& ctx, uint8_t* buf, size_t cap,
                            TbCodeInfo* info) {
  uint8_t* const base = ctx.buffer->base();
  if (!emitter_ || emitter_base_ != base) {
    emitter_ = std::make_unique<detail::Emitter>(base, ctx.buffer->capacity());
    emitter_base_ = base;
  }
  try {
    return emitter_->run(ir, ctx, buf, cap, info);
  } catch (const Xbyak::Error& err) {
    throw BackendOverflow(err.what());
  }
}

size_t generate_x86(const Ir& ir, const BackendContext& ctx, uint8_t* buf, size_t cap,
                    TbCodeInfo* info) {
  X86Backend backend;
  return backend.generate(ir, ctx, buf, cap, info);
}

}  // namespace tandem::tcg
