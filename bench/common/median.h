// The median the benchmarks print next to their best-of figures: of per-round ratios or times.
#pragma once

#include <algorithm>
#include <vector>

namespace tandem::bench {

// 0 for no values; the mean of the middle two for an even count.
inline double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace tandem::bench
