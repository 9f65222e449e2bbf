// Logging for the whole VMM: spdlog, to stderr, level from TANDEM_LOG (trace..off, default warn)
// or from the command line. Guest console output never goes through here.
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

namespace tandem {

// Sets up the default logger once; safe to call more than once.
void init_logging();
// "trace", "debug", "info", "warn", "error", "off". Throws Error on an unknown name.
void set_log_level(std::string_view level);

}  // namespace tandem

#define TLOG_TRACE(...) SPDLOG_TRACE(__VA_ARGS__)
#define TLOG_DEBUG(...) SPDLOG_DEBUG(__VA_ARGS__)
#define TLOG_INFO(...) SPDLOG_INFO(__VA_ARGS__)
#define TLOG_WARN(...) SPDLOG_WARN(__VA_ARGS__)
#define TLOG_ERROR(...) SPDLOG_ERROR(__VA_ARGS__)
