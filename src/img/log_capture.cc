#include "img/log_capture.h"

#include <cstdlib>
#include <mutex>

namespace tandem::img {

namespace {

std::mutex g_mutex;
std::string g_last;  // guarded by g_mutex

void keep_last(LogLevel level, std::string_view message) {
  if (level < LogLevel::warn) return;
  std::lock_guard lock(g_mutex);
  g_last.assign(message);
}

}  // namespace

LogCapture::LogCapture() {
  if (std::getenv("TANDEM_LOG")) return;
  {
    std::lock_guard lock(g_mutex);
    g_last.clear();
  }
  previous_level_ = log_level();
  set_log_level("warn");
  previous_ = set_log_sink(keep_last);
  active_ = true;
}

LogCapture::~LogCapture() {
  if (!active_) return;
  set_log_sink(std::move(previous_));
  log_detail::g_level.store(static_cast<int>(previous_level_));
}

std::string last_log_message() {
  std::lock_guard lock(g_mutex);
  return g_last;
}

}  // namespace tandem::img
