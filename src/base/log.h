// Logging for the whole VMM: to stderr, level from TANDEM_LOG (trace..off, default warn) or from
// the command line. Guest console output never goes through here.
//
// This header is a thin front: messages are formatted with fmt and handed to log.cc, the one
// file that includes spdlog (header-only). Keeping spdlog out of every other translation unit
// keeps builds quick and lets the tandem binary carry no shared libspdlog/libstdc++, whose
// pages were a third of its resident memory.
#pragma once

#include <fmt/format.h>

#include <atomic>
#include <functional>
#include <string>
#include <string_view>

namespace tandem {

enum class LogLevel : int { trace, debug, info, warn, error, off };

// Sets up the default logger once; safe to call more than once.
void init_logging();
// "trace", "debug", "info", "warn", "error", "off". Throws Error on an unknown name.
void set_log_level(std::string_view level);
LogLevel log_level();

// Replaces where log lines go (nullptr: back to stderr) and returns the previous sink.
using LogSink = std::function<void(LogLevel, std::string_view)>;
LogSink set_log_sink(LogSink sink);

namespace log_detail {
extern std::atomic<int> g_level;
inline bool enabled(LogLevel level) {
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}
void write(LogLevel level, std::string_view message);
}  // namespace log_detail

}  // namespace tandem

// The arguments are evaluated only when the level is enabled.
#define TANDEM_LOG_AT(level, ...)                                     \
  do {                                                                \
    if (::tandem::log_detail::enabled(level))                         \
      ::tandem::log_detail::write(level, ::fmt::format(__VA_ARGS__)); \
  } while (0)

#define TLOG_TRACE(...) TANDEM_LOG_AT(::tandem::LogLevel::trace, __VA_ARGS__)
#define TLOG_DEBUG(...) TANDEM_LOG_AT(::tandem::LogLevel::debug, __VA_ARGS__)
#define TLOG_INFO(...) TANDEM_LOG_AT(::tandem::LogLevel::info, __VA_ARGS__)
#define TLOG_WARN(...) TANDEM_LOG_AT(::tandem::LogLevel::warn, __VA_ARGS__)
#define TLOG_ERROR(...) TANDEM_LOG_AT(::tandem::LogLevel::error, __VA_ARGS__)
