#include "hw/char/stdio/stdio_backend.h"

#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "base/error.h"
#include "base/event_loop.h"
#include "base/unique_fd.h"
#include "hw/char/char_backend.h"
#include "hw/char/stdio/terminal_guard.h"
#include "hw/core/vm_control.h"

namespace tandem {
namespace {

struct RecordingControl : VmControl {
  void request_exit(int status) override { exits.push_back(status); }
  void request_reset() override {}
  std::vector<int> exits;
};

struct FakeFrontend : CharFrontend {
  size_t can_receive() override { return capacity - got.size(); }
  void receive(std::span<const uint8_t> data) override {
    ASSERT_LE(data.size(), capacity - got.size());
    got.append(data.begin(), data.end());
  }
  size_t capacity = 1 << 20;
  std::string got;
};

struct Pipe {
  Pipe() {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    r.reset(fds[0]);
    w.reset(fds[1]);
  }
  void put(const std::string& s) {
    ASSERT_EQ(::write(w.get(), s.data(), s.size()), ssize_t(s.size()));
  }
  std::string drain() {
    std::string s;
    char buf[4096];
    int fl = ::fcntl(r.get(), F_GETFL);
    ::fcntl(r.get(), F_SETFL, fl | O_NONBLOCK);
    for (ssize_t n; (n = ::read(r.get(), buf, sizeof buf)) > 0;) s.append(buf, n);
    ::fcntl(r.get(), F_SETFL, fl);
    return s;
  }
  UniqueFd r, w;
};

// Runs the loop for a while (enough for pipes to be noticed).
void spin(EventLoop& loop, int rounds = 20) {
  for (int i = 0; i < rounds; ++i) loop.run_once(5);
}

TEST(StdioBackend, DeliversPipeInputAndStopsAtEof) {
  EventLoop loop;
  RecordingControl control;
  Pipe in, out;
  StdioBackend backend(loop, control, in.r.get(), out.w.get());
  FakeFrontend fe;
  backend.set_frontend(&fe);
  in.put("hello ");
  spin(loop);
  in.put("world\n");
  spin(loop);
  EXPECT_EQ(fe.got, "hello world\n");
  in.w.reset();  // EOF
  spin(loop);
  // After EOF the fd is no longer watched: the loop sleeps instead of spinning on the HUP.
  EXPECT_EQ(loop.run_once(20), 0);
  EXPECT_TRUE(control.exits.empty());
}

TEST(StdioBackend, CtrlAEscapes) {
  EventLoop loop;
  RecordingControl control;
  Pipe in, out;
  StdioBackend backend(loop, control, in.r.get(), out.w.get());
  FakeFrontend fe;
  backend.set_frontend(&fe);
  in.put(
      std::string("a\x01\x01"
                  "b\x01zc\x01h"));
  spin(loop);
  EXPECT_EQ(fe.got, std::string("a\x01"
                                "bc"));  // C-a C-a -> C-a; C-a z dropped
  EXPECT_NE(out.drain().find("C-a x    exit emulator"), std::string::npos);
  EXPECT_TRUE(control.exits.empty());
  in.put(std::string("\x01"));  // an escape split across reads still works
  spin(loop);
  in.put("xafter");
  spin(loop);
  EXPECT_EQ(control.exits, std::vector<int>{0});
  EXPECT_EQ(fe.got, std::string("a\x01"
                                "bc"));  // nothing after C-a x is delivered
}

TEST(StdioBackend, FlowControlPausesUntilAcceptInput) {
  EventLoop loop;
  RecordingControl control;
  Pipe in, out;
  StdioBackend backend(loop, control, in.r.get(), out.w.get());
  FakeFrontend fe;
  fe.capacity = 4;
  backend.set_frontend(&fe);
  in.put("0123456789");
  spin(loop);
  EXPECT_EQ(fe.got, "0123");
  // Paused: the readable pipe is no longer watched, so the loop does not spin.
  EXPECT_EQ(loop.run_once(20), 0);
  fe.capacity = 8;
  backend.accept_input();
  spin(loop);
  EXPECT_EQ(fe.got, "01234567");
  fe.capacity = 100;
  backend.accept_input();
  spin(loop);
  EXPECT_EQ(fe.got, "0123456789");
}

TEST(StdioBackend, RegularFileInput) {
  char path[] = "/tmp/tandem-stdio-XXXXXX";
  UniqueFd file(::mkstemp(path));
  ASSERT_TRUE(file.valid());
  ::unlink(path);
  std::string content(10000, 'f');
  ASSERT_EQ(::write(file.get(), content.data(), content.size()), ssize_t(content.size()));
  ::lseek(file.get(), 0, SEEK_SET);
  EventLoop loop;
  RecordingControl control;
  Pipe out;
  StdioBackend backend(loop, control, file.get(), out.w.get());
  FakeFrontend fe;
  fe.capacity = 16;  // a UART FIFO
  backend.set_frontend(&fe);
  spin(loop, 5);
  EXPECT_EQ(fe.got.size(), 16u);
  for (int i = 0; i < 1000 && fe.got.size() < content.size(); ++i) {
    fe.capacity = fe.got.size() + 16;
    backend.accept_input();
    loop.run_once(5);
  }
  EXPECT_EQ(fe.got, content);
  fe.capacity += 16;
  backend.accept_input();
  spin(loop, 3);                    // reads EOF
  EXPECT_EQ(loop.run_once(20), 0);  // and then nothing is left to do
}

TEST(StdioBackend, OutputSurvivesFullNonBlockingPipe) {
  EventLoop loop;
  RecordingControl control;
  Pipe in, out;
  ::fcntl(out.w.get(), F_SETFL, O_NONBLOCK);
  StdioBackend backend(loop, control, in.r.get(), out.w.get());
  std::string big(1 << 20, 'o');
  std::string got;
  std::thread reader([&] {
    char buf[65536];
    while (got.size() < big.size()) {
      ssize_t n = ::read(out.r.get(), buf, sizeof buf);
      if (n <= 0) break;
      got.append(buf, n);
    }
  });
  backend.write({reinterpret_cast<const uint8_t*>(big.data()), big.size()});
  reader.join();
  EXPECT_EQ(got.size(), big.size());
}

TEST(StdioBackend, ClosedOutputDropsInsteadOfFailing) {
  ::signal(SIGPIPE, SIG_IGN);  // as the tandem binary does
  EventLoop loop;
  RecordingControl control;
  Pipe in, out;
  StdioBackend backend(loop, control, in.r.get(), out.w.get());
  out.r.reset();
  const uint8_t byte = 'x';
  backend.write({&byte, 1});
  backend.write({&byte, 1});
  SUCCEED();
}

TEST(TerminalGuard, RawModeAndRestore) {
  int master, slave;
  ASSERT_EQ(::openpty(&master, &slave, nullptr, nullptr, nullptr), 0);
  UniqueFd m(master), s(slave);
  termios before;
  ASSERT_EQ(::tcgetattr(slave, &before), 0);
  ASSERT_TRUE(before.c_lflag & ICANON);
  int flags_before = ::fcntl(slave, F_GETFL);
  {
    TerminalGuard guard(slave);
    EXPECT_TRUE(guard.is_tty());
    termios raw;
    ASSERT_EQ(::tcgetattr(slave, &raw), 0);
    EXPECT_FALSE(raw.c_lflag & (ICANON | ECHO | ISIG));
    EXPECT_TRUE(::fcntl(slave, F_GETFL) & O_NONBLOCK);
    EXPECT_THROW(TerminalGuard second(slave), Error);
  }
  termios after;
  ASSERT_EQ(::tcgetattr(slave, &after), 0);
  EXPECT_EQ(after.c_lflag, before.c_lflag);
  EXPECT_EQ(after.c_iflag, before.c_iflag);
  EXPECT_EQ(::fcntl(slave, F_GETFL), flags_before);
}

// A VMM killed by SIGTERM must still give the terminal back, and still die of SIGTERM.
TEST(TerminalGuard, RestoresOnFatalSignalAndReRaises) {
  int master, slave;
  ASSERT_EQ(::openpty(&master, &slave, nullptr, nullptr, nullptr), 0);
  UniqueFd m(master), s(slave);
  termios before;
  ASSERT_EQ(::tcgetattr(slave, &before), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    TerminalGuard guard(slave);
    ::raise(SIGTERM);
    ::_exit(42);  // not reached
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
  termios after;
  ASSERT_EQ(::tcgetattr(slave, &after), 0);
  EXPECT_EQ(after.c_lflag, before.c_lflag);
}

TEST(TerminalGuard, RestoresAtExit) {
  int master, slave;
  ASSERT_EQ(::openpty(&master, &slave, nullptr, nullptr, nullptr), 0);
  UniqueFd m(master), s(slave);
  termios before;
  ASSERT_EQ(::tcgetattr(slave, &before), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    static TerminalGuard* leaked = new TerminalGuard(slave);  // never destroyed: exit() path
    (void)leaked;
    ::exit(3);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 3);
  termios after;
  ASSERT_EQ(::tcgetattr(slave, &after), 0);
  EXPECT_EQ(after.c_lflag, before.c_lflag);
}

TEST(MakeCharBackend, SpecsAndErrors) {
  EventLoop loop;
  RecordingControl control;
  EXPECT_NE(make_char_backend("null", loop, control), nullptr);
  EXPECT_NE(make_char_backend("none", loop, control), nullptr);
  EXPECT_THROW(make_char_backend("pty", loop, control), Error);
  EXPECT_THROW(make_char_backend("file:", loop, control), Error);
  EXPECT_THROW(make_char_backend("file:/nonexistent-dir/x", loop, control), Error);
  char path[] = "/tmp/tandem-serial-XXXXXX";
  UniqueFd tmp(::mkstemp(path));
  {
    auto file = make_char_backend(std::string("file:") + path, loop, control);
    const uint8_t text[] = {'o', 'k'};
    file->write(text);
  }
  char buf[8] = {};
  UniqueFd rd(::open(path, O_RDONLY));
  EXPECT_EQ(::read(rd.get(), buf, sizeof buf), 2);
  EXPECT_STREQ(buf, "ok");
  ::unlink(path);
}

}  // namespace
}  // namespace tandem
