// An LRU cache of metadata tables (L2 tables, refcount blocks), each exactly one cluster, keyed
// by their offset in the image file. Tables changed in memory stay dirty until the image writes
// them back (Qcow2Image decides when, and in what order); only clean tables nobody holds are
// evicted, so the cache may exceed its capacity until the next write-back.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <list>
#include <memory>
#include <unordered_map>
#include <vector>

#include "block/qcow2/qcow2_format.h"

namespace tandem::qcow2 {

class Table {
 public:
  Table(uint64_t offset, size_t size);
  Table(const Table&) = delete;
  Table& operator=(const Table&) = delete;

  uint64_t offset() const { return offset_; }
  size_t size() const { return size_; }
  uint8_t* data() { return data_.get(); }
  const uint8_t* data() const { return data_.get(); }
  bool dirty() const { return dirty_; }
  void set_dirty(bool dirty) { dirty_ = dirty; }

  // Big-endian 64-bit entry i (L2 tables).
  uint64_t entry(size_t i) const { return load_be64(data() + i * 8); }
  void set_entry(size_t i, uint64_t v) {
    store_be64(data() + i * 8, v);
    dirty_ = true;
  }

 private:
  struct FreeDeleter {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  uint64_t offset_;
  size_t size_;
  std::unique_ptr<uint8_t, FreeDeleter> data_;  // page-aligned, for O_DIRECT
  bool dirty_ = false;
};

using TablePtr = std::shared_ptr<Table>;

class TableCache {
 public:
  TableCache(size_t table_size, size_t capacity);

  // The cached table at `offset` (now the most recently used), or null.
  TablePtr find(uint64_t offset);
  // Adds a zero-filled table for `offset` (which must not be cached) as the most recently used.
  TablePtr insert(uint64_t offset);
  void erase(uint64_t offset);
  bool contains(uint64_t offset) const { return index_.count(offset) != 0; }

  bool over_capacity() const { return lru_.size() > capacity_; }
  // Dirty tables, in file order.
  std::vector<TablePtr> dirty_tables() const;
  bool has_dirty() const;
  // Evicts clean tables that nobody else holds, least recently used first, down to capacity.
  void trim();

 private:
  size_t table_size_;
  size_t capacity_;
  std::list<TablePtr> lru_;  // front: most recently used
  std::unordered_map<uint64_t, std::list<TablePtr>::iterator> index_;
};

}  // namespace tandem::qcow2
