#include "hw/char/stdio/terminal_guard.h"

#include <fcntl.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>

#include "base/error.h"

namespace tandem {
namespace {

// Everything the restore path needs, reachable from signal handlers and atexit. Written only
// while no guard is active; `active` publishes it.
struct Saved {
  int fd = -1;
  bool is_tty = false;
  termios tio{};
  int flags = 0;
};
Saved g_saved;
std::atomic<bool> g_active{false};
std::atomic<bool> g_atexit_registered{false};

constexpr int kSignals[] = {SIGTERM, SIGHUP, SIGQUIT, SIGINT, SIGABRT};
struct sigaction g_old_actions[sizeof kSignals / sizeof kSignals[0]];

// Async-signal-safe: only tcsetattr and fcntl.
void restore_terminal() {
  if (!g_active.exchange(false)) return;
  if (g_saved.is_tty) ::tcsetattr(g_saved.fd, TCSANOW, &g_saved.tio);
  ::fcntl(g_saved.fd, F_SETFL, g_saved.flags);
}

void on_fatal_signal(int sig) {
  restore_terminal();
  // Default action, then deliver again: the process dies of the signal as it would have.
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

void restore_at_exit() {
  restore_terminal();
}

}  // namespace

TerminalGuard::TerminalGuard(int fd) {
  if (g_active.load()) fail("the terminal is already in use by another stdio backend");
  Saved saved;
  saved.fd = fd;
  saved.flags = ::fcntl(fd, F_GETFL);
  if (saved.flags < 0) fail_errno("stdin (fd {})", fd);
  saved.is_tty = ::isatty(fd) && ::tcgetattr(fd, &saved.tio) == 0;
  g_saved = saved;
  is_tty_ = saved.is_tty;

  if (!g_atexit_registered.exchange(true)) std::atexit(restore_at_exit);
  for (size_t i = 0; i < std::size(kSignals); ++i) {
    struct sigaction action {};
    action.sa_handler = on_fatal_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESETHAND;
    ::sigaction(kSignals[i], &action, &g_old_actions[i]);
  }
  g_active = true;

  if (is_tty_) {
    // Raw input as QEMU's stdio does for -nographic: no line editing, no echo, no signals from
    // the keyboard (Ctrl-C goes to the guest; Ctrl-A X quits). Output processing stays on so
    // the host terminal still turns "\n" into a new line.
    termios raw = saved.tio;
    raw.c_iflag &= ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
    raw.c_oflag |= OPOST;
    raw.c_lflag &= ~(ECHO | ECHONL | ICANON | IEXTEN | ISIG);
    raw.c_cflag &= ~(CSIZE | PARENB);
    raw.c_cflag |= CS8;
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    ::tcsetattr(fd, TCSANOW, &raw);
  }
  ::fcntl(fd, F_SETFL, saved.flags | O_NONBLOCK);
}

TerminalGuard::~TerminalGuard() {
  restore_terminal();
  for (size_t i = 0; i < std::size(kSignals); ++i)
    ::sigaction(kSignals[i], &g_old_actions[i], nullptr);
}

}  // namespace tandem
