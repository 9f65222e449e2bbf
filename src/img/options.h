// Command-line parsing for `tandem img`, spelled as qemu-img spells it: short options with their
// value attached or separate (-f qcow2, -fqcow2), grouped flags (-pq), long options with = or a
// separate value (--output=json), "--" ending the options; sizes with k/M/G/T/P/E suffixes; and
// -o's comma-separated name=value lists (",," for a comma inside a value).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace tandem::img {

struct OptionSpec {
  char short_name;        // 0: long only
  const char* long_name;  // nullptr: short only
  bool takes_value;
  int id;
};

struct ParsedArgs {
  std::vector<std::pair<int, std::string>> options;  // (id, value) in command-line order
  std::vector<std::string> positional;
};

// Throws Error naming the unknown option or the missing value.
ParsedArgs parse_args(const std::string& command, const std::vector<std::string>& args,
                      std::span<const OptionSpec> spec);

// qemu-img's size syntax: a number (decimal fraction allowed) with an optional suffix b, k, M,
// G, T, P, E (powers of 1024, either case). Throws Error for anything else, negative values and
// sizes above INT64_MAX.
uint64_t parse_size(const std::string& text);

// "a=b,c=d" -> {{"a","b"},{"c","d"}}; ",," stands for one comma inside a value. An item
// without '=' throws Error.
std::vector<std::pair<std::string, std::string>> parse_option_list(const std::string& text);

// "on"/"off" and QEMU's other boolean spellings. Throws Error naming `name`.
bool parse_bool(const std::string& name, const std::string& value);

// qemu-img's human-readable sizes: three significant digits and a binary unit ("0 B",
// "196 KiB", "1.25 MiB", "1 GiB").
std::string size_to_str(uint64_t bytes);

}  // namespace tandem::img
