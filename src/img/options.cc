#include "img/options.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "base/error.h"

namespace tandem::img {

ParsedArgs parse_args(const std::string& command, const std::vector<std::string>& args,
                      std::span<const OptionSpec> spec) {
  ParsedArgs out;
  auto find_short = [&](char c) -> const OptionSpec* {
    for (const OptionSpec& s : spec) {
      if (s.short_name == c) return &s;
    }
    return nullptr;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      out.positional.insert(out.positional.end(), args.begin() + static_cast<ptrdiff_t>(i) + 1,
                            args.end());
      break;
    }
    if (a.starts_with("--")) {
      std::string name = a.substr(2), value;
      bool has_value = false;
      if (size_t eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name.resize(eq);
        has_value = true;
      }
      const OptionSpec* s = nullptr;
      for (const OptionSpec& o : spec) {
        if (o.long_name && name == o.long_name) s = &o;
      }
      if (!s) fail("img {}: unrecognized option '--{}'", command, name);
      if (s->takes_value && !has_value) {
        if (i + 1 >= args.size()) fail("img {}: option '--{}' requires an argument", command, name);
        value = args[++i];
      } else if (!s->takes_value && has_value) {
        fail("img {}: option '--{}' doesn't allow an argument", command, name);
      }
      out.options.emplace_back(s->id, value);
      continue;
    }
    if (a.size() > 1 && a[0] == '-') {
      for (size_t j = 1; j < a.size(); ++j) {
        const OptionSpec* s = find_short(a[j]);
        if (!s) fail("img {}: invalid option -- '{}'", command, a[j]);
        if (!s->takes_value) {
          out.options.emplace_back(s->id, "");
          continue;
        }
        std::string value;
        if (j + 1 < a.size()) {
          value = a.substr(j + 1);
        } else if (i + 1 < args.size()) {
          value = args[++i];
        } else {
          fail("img {}: option requires an argument -- '{}'", command, a[j]);
        }
        out.options.emplace_back(s->id, value);
        break;
      }
      continue;
    }
    out.positional.push_back(a);
  }
  return out;
}

uint64_t parse_size(const std::string& text) {
  auto bad = [&]() {
    fail(
        "Invalid image size specified: '{}'. You may use k, M, G, T, P or E suffixes for "
        "kilobytes, megabytes, gigabytes, terabytes, petabytes and exabytes.",
        text);
  };
  if (text.empty() || text[0] == '-' || text[0] == '+' ||
      std::isspace(static_cast<uint8_t>(text[0]))) {
    bad();
  }
  size_t digits = 0;
  while (digits < text.size() &&
         (std::isdigit(static_cast<uint8_t>(text[digits])) || text[digits] == '.')) {
    ++digits;
  }
  std::string number = text.substr(0, digits), suffix = text.substr(digits);
  if (number.empty() || number == "." || number.find('.') != number.rfind('.')) bad();
  unsigned shift = 0;
  if (suffix.size() > 1) bad();
  if (suffix.size() == 1) {
    switch (std::tolower(static_cast<uint8_t>(suffix[0]))) {
      case 'b':
        shift = 0;
        break;
      case 'k':
        shift = 10;
        break;
      case 'm':
        shift = 20;
        break;
      case 'g':
        shift = 30;
        break;
      case 't':
        shift = 40;
        break;
      case 'p':
        shift = 50;
        break;
      case 'e':
        shift = 60;
        break;
      default:
        bad();
    }
  }
  if (number.find('.') == std::string::npos) {
    errno = 0;
    char* end = nullptr;
    unsigned long long v = std::strtoull(number.c_str(), &end, 10);
    if (errno != 0 || *end != '\0') bad();
    if (shift > 0 && v > (uint64_t{INT64_MAX} >> shift)) bad();
    uint64_t result = uint64_t{v} << shift;
    if (result > uint64_t{INT64_MAX}) bad();
    return result;
  }
  // A fraction (1.5G): QEMU accepts it where the result is a whole number of bytes... close
  // enough: it rounds to the nearest byte.
  double v = std::strtod(number.c_str(), nullptr) * std::ldexp(1.0, static_cast<int>(shift));
  if (!(v >= 0) || v >= 9.2233720368547758e18) bad();
  return static_cast<uint64_t>(std::llround(v));
}

std::vector<std::pair<std::string, std::string>> parse_option_list(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  std::string item;
  auto finish = [&]() {
    if (item.empty()) return;
    size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      fail("Invalid parameter '{}' (expected name=value)", item);
    }
    out.emplace_back(item.substr(0, eq), item.substr(eq + 1));
    item.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == ',') {
      if (i + 1 < text.size() && text[i + 1] == ',') {
        item += ',';
        ++i;
        continue;
      }
      finish();
      continue;
    }
    item += text[i];
  }
  finish();
  return out;
}

bool parse_bool(const std::string& name, const std::string& value) {
  if (value == "on" || value == "yes" || value == "true" || value == "y") return true;
  if (value == "off" || value == "no" || value == "false" || value == "n") return false;
  fail("Parameter '{}' expects 'on' or 'off', not '{}'", name, value);
}

std::string size_to_str(uint64_t bytes) {
  static const char* const kSuffixes[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
  // The unit changes once the number would reach 1000 (so 1000 KiB shows as 0.977 MiB).
  int exponent;
  std::frexp(static_cast<double>(bytes) / (1000.0 / 1024.0), &exponent);
  int unit = std::max(0, (exponent - 1) / 10);
  double value = static_cast<double>(bytes) / std::ldexp(1.0, unit * 10);
  char number[32];
  std::snprintf(number, sizeof number, "%0.3g", value);
  return fmt::format("{} {}B", number, kSuffixes[unit]);
}

}  // namespace tandem::img
