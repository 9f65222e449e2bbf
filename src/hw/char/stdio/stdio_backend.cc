#include "hw/char/stdio/stdio_backend.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string_view>

#include "base/error.h"
#include "base/event_loop.h"
#include "base/log.h"
#include "hw/char/stdio/terminal_guard.h"
#include "hw/core/vm_control.h"

namespace tandem {
namespace {

constexpr uint8_t kEscape = 0x01;  // Ctrl-A
// Plain "\n": a terminal keeps output processing on (raw input only), so it adds the "\r".
constexpr std::string_view kHelp =
    "\n"
    "C-a h    print this help\n"
    "C-a x    exit emulator\n"
    "C-a C-a  sends C-a\n";

}  // namespace

struct StdioBackend::Output {
  explicit Output(int fd) : fd(fd) {}

  // Writes everything, waiting for room when the fd is non-blocking (stdout often shares its
  // open file description, and so O_NONBLOCK, with a terminal stdin).
  void write(std::span<const uint8_t> data) {
    std::lock_guard lock(mutex);
    if (broken) return;
    while (!data.empty()) {
      ssize_t n = ::write(fd, data.data(), data.size());
      if (n > 0) {
        data = data.subspan(static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        pollfd p{fd, POLLOUT, 0};
        ::poll(&p, 1, -1);
        continue;
      }
      // The reader went away (EPIPE) or the fd is unusable: the guest keeps running, its console
      // output is dropped.
      broken = true;
      TLOG_WARN("serial console output: {}; dropping further output",
                n < 0 ? std::strerror(errno) : "short write");
      return;
    }
  }

  const int fd;
  std::mutex mutex;
  bool broken = false;
};

struct StdioBackend::Input : std::enable_shared_from_this<Input> {
  Input(EventLoop& loop, VmControl& control, int fd, std::shared_ptr<Output> output)
      : loop(loop), control(control), fd(fd), output(std::move(output)) {}

  ~Input() {
    // The last reference may go on either thread; nobody else can touch `watching` now.
    if (watching) loop.remove_fd(fd);
  }

  // Runs fn on the loop thread if the Input still exists then.
  void post(void (Input::*fn)()) {
    loop.post([weak = weak_from_this(), fn] {
      if (auto self = weak.lock()) ((*self).*fn)();
    });
  }

  // Loop thread: (re)start reading.
  void resume() {
    if (eof) return;
    if (pollable && !watching) {
      try {
        loop.add_fd(fd, EPOLLIN, [weak = weak_from_this()](uint32_t) {
          if (auto self = weak.lock()) self->on_readable();
        });
        watching = true;
        return;  // epoll says when there is input
      } catch (const SystemError& e) {
        if (e.code() != EPERM) {
          TLOG_WARN("serial console input: {}; no input", e.what());
          eof = true;
          return;
        }
        // A regular file or /dev/null: epoll refuses it, but reads never block. Pump it.
        pollable = false;
      }
    }
    if (!pollable) on_readable();
  }

  void stop_watching() {
    if (!watching) return;
    loop.remove_fd(fd);
    watching = false;
  }

  // Loop thread: read what the frontend can take, run it through the escape, deliver.
  void on_readable() {
    std::lock_guard lock(mutex);
    if (eof) return;
    // No frontend, or no room: stop reading; set_frontend() or accept_input() resumes.
    size_t room = frontend ? frontend->can_receive() : 0;
    if (room == 0) {
      stop_watching();
      return;
    }
    uint8_t buf[4096];
    ssize_t n = ::read(fd, buf, std::min(room, sizeof buf));
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) {
        if (!pollable) post(&Input::on_readable);
        return;
      }
      TLOG_WARN("serial console input: {}; no more input", std::strerror(errno));
      finish();
      return;
    }
    if (n == 0) {  // EOF: stop for good (a pipe's writer closed). The guest keeps running.
      finish();
      return;
    }
    size_t out = 0;
    for (ssize_t i = 0; i < n && !eof; ++i) {
      uint8_t c = buf[i];
      if (escape) {
        escape = false;
        if (c == kEscape) {
          buf[out++] = c;
        } else if (c == 'x' || c == 'X') {
          static constexpr std::string_view kBye = "\ntandem: terminated\n";
          output->write({reinterpret_cast<const uint8_t*>(kBye.data()), kBye.size()});
          finish();
          control.request_exit(0);
        } else if (c == 'h' || c == 'H' || c == '?') {
          output->write({reinterpret_cast<const uint8_t*>(kHelp.data()), kHelp.size()});
        }  // anything else after C-a is dropped, as in QEMU
      } else if (c == kEscape) {
        escape = true;
      } else {
        buf[out++] = c;
      }
    }
    if (out) frontend->receive({buf, out});
    if (!pollable && !eof) post(&Input::on_readable);
  }

  void finish() {
    eof = true;
    stop_watching();
  }

  EventLoop& loop;
  VmControl& control;
  const int fd;
  std::shared_ptr<Output> output;

  std::mutex mutex;  // guards frontend; held while calling into it
  CharFrontend* frontend = nullptr;

  // Loop thread only.
  bool watching = false;
  bool pollable = true;
  bool eof = false;
  bool escape = false;
};

StdioBackend::StdioBackend(EventLoop& loop, VmControl& control, int in_fd, int out_fd)
    : output_(std::make_shared<Output>(out_fd)) {
  bool have_input = ::fcntl(in_fd, F_GETFL) >= 0;
  if (have_input) terminal_ = std::make_unique<TerminalGuard>(in_fd);
  input_ = std::make_shared<Input>(loop, control, in_fd, output_);
  if (!have_input) input_->eof = true;  // stdin closed: output only
}

StdioBackend::~StdioBackend() {
  set_frontend(nullptr);
  // input_ goes first (members are destroyed in reverse), then the terminal is restored.
}

void StdioBackend::write(std::span<const uint8_t> data) {
  output_->write(data);
}

void StdioBackend::set_frontend(CharFrontend* frontend) {
  {
    std::lock_guard lock(input_->mutex);
    input_->frontend = frontend;
  }
  if (frontend) input_->post(&Input::resume);
}

void StdioBackend::accept_input() {
  input_->post(&Input::resume);
}

}  // namespace tandem
