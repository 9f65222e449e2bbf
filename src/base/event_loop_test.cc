#include "base/event_loop.h"

#include "base/error.h"

#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

namespace tandem {
namespace {

TEST(EventLoop, DispatchesReadyFd) {
  EventLoop loop;
  UniqueFd efd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  int calls = 0;
  loop.add_fd(efd.get(), EPOLLIN, [&](uint32_t events) {
    EXPECT_TRUE(events & EPOLLIN);
    uint64_t v;
    ASSERT_EQ(read(efd.get(), &v, sizeof v), 8);
    EXPECT_EQ(v, 3u);
    ++calls;
  });
  uint64_t three = 3;
  ASSERT_EQ(write(efd.get(), &three, 8), 8);
  loop.run_once(1000);
  EXPECT_EQ(calls, 1);
  loop.remove_fd(efd.get());
  ASSERT_EQ(write(efd.get(), &three, 8), 8);
  loop.run_once(10);
  EXPECT_EQ(calls, 1);
}

TEST(EventLoop, AddingBadFdThrows) {
  EventLoop loop;
  EXPECT_THROW(loop.add_fd(-1, EPOLLIN, [](uint32_t) {}), SystemError);
}

TEST(IoThread, RunsPostedWorkOnItsThread) {
  IoThread io;
  std::promise<std::thread::id> where;
  io.loop().post([&] { where.set_value(std::this_thread::get_id()); });
  auto f = where.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_NE(f.get(), std::this_thread::get_id());
}

// After an event the loop spins on its pollers before sleeping: work that arrives without any
// fd event is found; each spin is bracketed by polling(true) / polling(false).
TEST(IoThread, PollersFindWorkWithoutEvents) {
  IoThread io;
  io.loop().set_poll_max_ns(2'000'000'000);
  std::atomic<int> pending{0}, handled{0}, begins{0}, ends{0};
  int id = io.loop().add_poller(
      [&] {
        if (pending.load() == 0) return false;
        pending.fetch_sub(1);
        handled.fetch_add(1);
        return true;
      },
      [&](bool on) { (on ? begins : ends).fetch_add(1); });
  std::promise<void> ran;
  io.loop().post([&] { ran.set_value(); });  // an event: a spin follows it
  ASSERT_EQ(ran.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
  pending = 1;  // no fd, no post: only the spin can see it
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (handled.load() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_EQ(handled.load(), 1);
  io.loop().remove_poller(id);
  io.stop();
  EXPECT_GE(begins.load(), 1);
  EXPECT_EQ(begins.load(), ends.load());
}

// Spinning off: the same work waits for an event.
TEST(IoThread, NoSpinWhenPollMaxIsZero) {
  IoThread io;
  io.loop().set_poll_max_ns(0);
  std::atomic<int> calls{0};
  io.loop().add_poller(
      [&] {
        calls.fetch_add(1);
        return false;
      },
      [](bool) {});
  std::promise<void> ran;
  io.loop().post([&] { ran.set_value(); });
  ASSERT_EQ(ran.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(calls.load(), 0);
}

TEST(IoThread, FdCallbackRunsOnIoThread) {
  IoThread io;
  UniqueFd efd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  std::promise<void> fired;
  std::atomic<bool> once{false};
  io.loop().add_fd(efd.get(), EPOLLIN, [&](uint32_t) {
    uint64_t v;
    [[maybe_unused]] auto r = read(efd.get(), &v, sizeof v);
    if (!once.exchange(true)) fired.set_value();
  });
  uint64_t one = 1;
  ASSERT_EQ(write(efd.get(), &one, 8), 8);
  EXPECT_EQ(fired.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
  io.loop().remove_fd(efd.get());
}

}  // namespace
}  // namespace tandem
