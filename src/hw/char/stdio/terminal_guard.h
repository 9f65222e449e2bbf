// Puts the terminal into raw mode (and the input fd into non-blocking mode) for as long as the
// guard lives, and puts both back however the process ends: the destructor (normal return and
// exceptions), atexit (exit() from any thread), and SIGTERM/SIGHUP/SIGQUIT/SIGINT/SIGABRT, whose
// handlers restore the terminal and then re-raise the signal with its default action so the exit
// status still says what killed us. Without this a killed VMM leaves the user's shell without
// echo.
#pragma once

namespace tandem {

class TerminalGuard {
 public:
  // fd is the input side (usually 0). Raw mode only applies when fd is a TTY; the fd is made
  // O_NONBLOCK in any case. Only one guard may exist at a time (the saved state is global so
  // that signal handlers can reach it); a second one throws Error.
  explicit TerminalGuard(int fd);
  ~TerminalGuard();
  TerminalGuard(const TerminalGuard&) = delete;
  TerminalGuard& operator=(const TerminalGuard&) = delete;

  bool is_tty() const { return is_tty_; }

 private:
  bool is_tty_ = false;
};

}  // namespace tandem
