// The only file that includes spdlog (header-only, see log.h for why).
#include "base/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <mutex>
#include <string>

#include "base/error.h"

namespace tandem {

namespace log_detail {
std::atomic<int> g_level{static_cast<int>(LogLevel::warn)};
}  // namespace log_detail

namespace {

std::mutex g_sink_mutex;
LogSink g_sink;  // guarded by g_sink_mutex

spdlog::level::level_enum to_spdlog(LogLevel level) {
  switch (level) {
    case LogLevel::trace:
      return spdlog::level::trace;
    case LogLevel::debug:
      return spdlog::level::debug;
    case LogLevel::info:
      return spdlog::level::info;
    case LogLevel::warn:
      return spdlog::level::warn;
    case LogLevel::error:
      return spdlog::level::err;
    case LogLevel::off:
      break;
  }
  return spdlog::level::off;
}

}  // namespace

void init_logging() {
  static std::once_flag once;
  std::call_once(once, [] {
    auto logger = spdlog::stderr_logger_mt("tandem");
    logger->set_pattern("tandem: %l: %v");
    logger->set_level(spdlog::level::trace);  // filtering happens in log.h
    spdlog::set_default_logger(logger);
    if (const char* env = std::getenv("TANDEM_LOG")) set_log_level(env);
  });
}

void set_log_level(std::string_view level) {
  static constexpr std::string_view kNames[] = {"trace", "debug", "info", "warn", "error", "off"};
  for (int i = 0; i < 6; ++i) {
    if (level == kNames[i]) {
      log_detail::g_level.store(i, std::memory_order_relaxed);
      return;
    }
  }
  // spdlog's spellings, accepted as before.
  if (level == "warning") return set_log_level("warn");
  if (level == "err" || level == "critical") return set_log_level("error");
  fail("unknown log level '{}'", level);
}

LogLevel log_level() {
  return static_cast<LogLevel>(log_detail::g_level.load());
}

LogSink set_log_sink(LogSink sink) {
  std::lock_guard lock(g_sink_mutex);
  std::swap(g_sink, sink);
  return sink;
}

void log_detail::write(LogLevel level, std::string_view message) {
  {
    std::lock_guard lock(g_sink_mutex);
    if (g_sink) {
      g_sink(level, message);
      return;
    }
  }
  init_logging();
  spdlog::default_logger_raw()->log(to_spdlog(level), "{}", message);
}

}  // namespace tandem
