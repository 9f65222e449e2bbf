// The translation-block index: (guest pc, physical pc, frm, flags) -> Tb*. An open-addressing
// table (linear probing, tombstones for removals) instead of a node-based map: a lookup touches
// one slot array line and the Tb it compares against, which matters because full-system mode
// looks blocks up after every exit to the hart and every jump-cache miss. Each slot keeps its
// block's full hash next to the pointer, so that probing past other blocks compares hashes in
// the slot array instead of loading each Tb (a cache miss apiece: a Debian boot spent 5% of
// its time in those loads).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tandem::tcg {

template <typename Tb>
class TbTable {
 public:
  struct Key {
    uint64_t pc, phys;
    uint32_t frm, flags;
  };

  Tb* find(const Key& k) const {
    if (slots_.empty()) return nullptr;
    const uint64_t h = hash(k);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.tb == nullptr) return nullptr;
      if (s.hash == h && s.tb != tombstone() && matches(s.tb, k)) return s.tb;
    }
  }

  // Inserts tb, replacing a block with the same key.
  void insert(Tb* tb) {
    if ((used_ + 1) * 4 > slots_.size() * 3) grow();
    const Key k = key_of(tb);
    const uint64_t h = hash(k);
    size_t free_slot = SIZE_MAX;
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      Tb* t = slots_[i].tb;
      if (t == nullptr) {
        if (free_slot == SIZE_MAX) {
          free_slot = i;
          ++used_;
        }
        break;
      }
      if (t == tombstone()) {
        if (free_slot == SIZE_MAX) free_slot = i;
        continue;
      }
      if (slots_[i].hash == h && matches(t, k)) {
        slots_[i].tb = tb;
        return;
      }
    }
    slots_[free_slot] = {tb, h};
    ++count_;
  }

  // Removes tb if the table holds it (not another block with its key).
  void erase(Tb* tb) {
    if (slots_.empty()) return;
    for (size_t i = hash(key_of(tb)) & mask_;; i = (i + 1) & mask_) {
      Tb* t = slots_[i].tb;
      if (t == nullptr) return;
      if (t == tb) {
        slots_[i] = {tombstone(), 0};
        --count_;
        return;
      }
    }
  }

  void clear() {
    slots_.clear();
    mask_ = 0;
    used_ = count_ = 0;
  }
  size_t size() const { return count_; }

 private:
  static Tb* tombstone() { return reinterpret_cast<Tb*>(uintptr_t{1}); }
  static Key key_of(const Tb* t) { return {t->pc, t->phys, t->frm, t->flags}; }
  static bool matches(const Tb* t, const Key& k) {
    return t->pc == k.pc && t->phys == k.phys && t->frm == k.frm && t->flags == k.flags;
  }
  static uint64_t hash(const Key& k) {
    uint64_t h = k.phys * 0x9e3779b97f4a7c15ull ^ k.pc * 0xc2b2ae3d27d4eb4full ^
                 (uint64_t{k.frm} | uint64_t{k.flags} << 3);
    h ^= h >> 29;
    return h * 0xbf58476d1ce4e5b9ull >> 20;
  }
  struct Slot {
    Tb* tb = nullptr;  // nullptr: never used; tombstone(): removed
    uint64_t hash = 0;
  };
  // Doubles (or, with many tombstones, just rebuilds) the table.
  void grow() {
    std::vector<Slot> old = std::move(slots_);
    const size_t cap =
        old.empty() ? 4096 : (count_ * 2 > old.size() / 2 ? old.size() * 2 : old.size());
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    used_ = count_ = 0;
    for (const Slot& s : old) {
      if (s.tb != nullptr && s.tb != tombstone()) insert(s.tb);
    }
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t used_ = 0;   // slots not empty (blocks and tombstones)
  size_t count_ = 0;  // blocks
};

}  // namespace tandem::tcg
