#include "base/log.h"

#include <spdlog/sinks/stdout_sinks.h>

#include <cstdlib>
#include <mutex>
#include <string>

#include "base/error.h"

namespace tandem {

void init_logging() {
  static std::once_flag once;
  std::call_once(once, [] {
    auto logger = spdlog::stderr_logger_mt("tandem");
    logger->set_pattern("tandem: %l: %v");
    spdlog::set_default_logger(logger);
    spdlog::set_level(spdlog::level::warn);
    if (const char* env = std::getenv("TANDEM_LOG")) set_log_level(env);
  });
}

void set_log_level(std::string_view level) {
  auto parsed = spdlog::level::from_str(std::string(level));
  if (parsed == spdlog::level::off && level != "off") fail("unknown log level '{}'", level);
  spdlog::set_level(parsed);
}

}  // namespace tandem
