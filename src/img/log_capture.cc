#include "img/log_capture.h"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <mutex>

namespace tandem::img {

namespace {

std::mutex g_mutex;
std::string g_last;

class LastMessageSink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    if (msg.level < spdlog::level::warn) return;
    std::lock_guard lock(g_mutex);
    g_last.assign(msg.payload.data(), msg.payload.size());
  }
  void flush_() override {}
};

}  // namespace

LogCapture::LogCapture() {
  if (std::getenv("TANDEM_LOG")) return;
  previous_ = spdlog::default_logger();
  auto logger = std::make_shared<spdlog::logger>("tandem-img", std::make_shared<LastMessageSink>());
  logger->set_level(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  active_ = true;
  std::lock_guard lock(g_mutex);
  g_last.clear();
}

LogCapture::~LogCapture() {
  if (active_) spdlog::set_default_logger(previous_);
}

std::string last_log_message() {
  std::lock_guard lock(g_mutex);
  return g_last;
}

}  // namespace tandem::img
