// While a `tandem img` command runs, the driver's log lines (e.g. why a qcow2 image is corrupt)
// are kept instead of printed, so that the command's error stays one line that includes them.
// With TANDEM_LOG set, logging goes on as usual.
#pragma once

#include <string>

#include "base/log.h"

namespace tandem::img {

class LogCapture {
 public:
  LogCapture();
  ~LogCapture();
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

 private:
  LogSink previous_;
  LogLevel previous_level_ = LogLevel::warn;
  bool active_ = false;
};

// The last warning or error logged while a LogCapture is active ("" if none).
std::string last_log_message();

}  // namespace tandem::img
