#include "block/qcow2/table_cache.h"

#include <algorithm>
#include <cstring>
#include <new>

namespace tandem::qcow2 {

Table::Table(uint64_t offset, size_t size) : offset_(offset), size_(size) {
  constexpr size_t kAlign = 4096;
  size_t alloc = (size + kAlign - 1) / kAlign * kAlign;
  data_.reset(static_cast<uint8_t*>(std::aligned_alloc(kAlign, alloc)));
  if (!data_) throw std::bad_alloc();
  std::memset(data_.get(), 0, alloc);
}

TableCache::TableCache(size_t table_size, size_t capacity)
    : table_size_(table_size), capacity_(std::max<size_t>(capacity, 1)) {}

TablePtr TableCache::find(uint64_t offset) {
  auto it = index_.find(offset);
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return *it->second;
}

TablePtr TableCache::insert(uint64_t offset) {
  auto table = std::make_shared<Table>(offset, table_size_);
  lru_.push_front(table);
  index_[offset] = lru_.begin();
  return table;
}

void TableCache::erase(uint64_t offset) {
  auto it = index_.find(offset);
  if (it == index_.end()) return;
  lru_.erase(it->second);
  index_.erase(it);
}

std::vector<TablePtr> TableCache::dirty_tables() const {
  std::vector<TablePtr> out;
  for (const TablePtr& t : lru_) {
    if (t->dirty()) out.push_back(t);
  }
  std::sort(out.begin(), out.end(),
            [](const TablePtr& a, const TablePtr& b) { return a->offset() < b->offset(); });
  return out;
}

bool TableCache::has_dirty() const {
  return std::any_of(lru_.begin(), lru_.end(), [](const TablePtr& t) { return t->dirty(); });
}

void TableCache::trim() {
  for (auto it = lru_.end(); lru_.size() > capacity_ && it != lru_.begin();) {
    --it;
    if ((*it)->dirty() || it->use_count() > 1) continue;
    index_.erase((*it)->offset());
    it = lru_.erase(it);
  }
}

}  // namespace tandem::qcow2
