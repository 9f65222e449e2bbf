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
  io.stop();  // ends the spin: polling(false)
  io.loop().remove_poller(id);
  EXPECT_GE(begins.load(), 1);
  EXPECT_EQ(begins.load(), ends.load());
}

// A busy poller keeps the loop spinning (no sleep, no polling(false)) as long as it finds work,
// well beyond poll_max_ns; fds and posted work are still served meanwhile.
TEST(IoThread, SpinLastsWhileThereIsWork) {
  IoThread io;
  io.loop().set_poll_max_ns(200'000);  // 0.2 ms
  std::atomic<int> begins{0}, ends{0};
  std::atomic<bool> stop_work{false};
  int id = io.loop().add_poller([&] { return !stop_work.load(); },
                                [&](bool on) { (on ? begins : ends).fetch_add(1); });
  std::promise<void> ran;
  io.loop().post([&] { ran.set_value(); });
  ASSERT_EQ(ran.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
  // Posted work still runs during a busy spin.
  std::promise<void> ran2;
  io.loop().post([&] { ran2.set_value(); });
  ASSERT_EQ(ran2.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // 100x poll_max_ns
  int begins_busy = begins.load(), ends_busy = ends.load();
  stop_work = true;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (ends.load() < begins.load() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  io.stop();
  io.loop().remove_poller(id);
  EXPECT_EQ(begins_busy, 1);  // one spin all along
  EXPECT_EQ(ends_busy, 0);
  EXPECT_EQ(begins.load(), ends.load());
}

// remove_poller on the loop thread (say, a device destroyed by a callback) takes effect at once,
// even inside the spin that already holds the poller.
TEST(IoThread, PollerRemovedOnTheLoopThreadIsNotCalledAgain) {
  IoThread io;
  io.loop().set_poll_max_ns(2'000'000'000);
  std::atomic<int> calls_after_removal{0};
  std::atomic<bool> armed{false}, removed{false};
  std::atomic<int> second{0};
  std::promise<void> done;
  io.loop().add_poller(
      [&] {
        if (armed.load() && !removed.load()) {
          io.loop().remove_poller(second.load());
          removed = true;
          done.set_value();
        }
        return false;
      },
      [](bool) {});
  second = io.loop().add_poller(
      [&] {
        if (removed.load()) calls_after_removal.fetch_add(1);
        return false;
      },
      [&](bool) {
        if (removed.load()) calls_after_removal.fetch_add(1);
      });
  armed = true;
  io.loop().post([] {});  // an event: a spin follows it
  ASSERT_EQ(done.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  io.stop();
  EXPECT_EQ(calls_after_removal.load(), 0);
}

// The spin's length adapts: halved after a sleep longer than poll_max_ns, doubled (up to it)
// after a wake-up that came within poll_max_ns of the spin's end.
TEST(IoThread, SpinLengthAdapts) {
  constexpr uint64_t kMax = 200'000'000;  // 200 ms: wide margins for a loaded host
  IoThread io;
  io.loop().set_poll_max_ns(kMax);
  io.loop().add_poller([] { return false; }, [](bool) {});
  auto post_and_wait = [&] {
    std::promise<void> ran;
    io.loop().post([&] { ran.set_value(); });
    ASSERT_EQ(ran.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
  };
  post_and_wait();  // a 200 ms spin follows, then a sleep
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  post_and_wait();  // woken ~600 ms after the spin ended: too long to spin for
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(io.loop().poll_ns(), kMax / 2);
  // Now a 100 ms spin; wake the loop ~30 ms after it ends.
  std::this_thread::sleep_for(std::chrono::milliseconds(110));
  post_and_wait();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(io.loop().poll_ns(), kMax);
  io.stop();
}

// stop() during a spin: the spin's look at the fds (every kFdCheckRounds rounds) may consume
// stop()'s wake-up, and the loop must still not go to sleep afterwards (it did: a VM's I/O
// thread then never ended). A poller calls stop() in the very round whose fd check follows.
TEST(IoThread, StopDuringASpinEndsTheThread) {
  EventLoop loop;
  loop.set_poll_max_ns(500'000'000);
  unsigned polls = 0;
  loop.add_poller(
      [&] {
        if (++polls == EventLoop::kFdCheckRounds) loop.stop();
        return false;
      },
      [&](bool on) {
        if (on) polls = 0;
      });
  std::thread runner([&] { loop.run(); });
  loop.post([] {});  // wakes the loop: it runs the work, then spins
  auto done = std::async(std::launch::async, [&] { runner.join(); });
  const bool ok = done.wait_for(std::chrono::seconds(3)) == std::future_status::ready;
  if (!ok) loop.stop();  // a second wake-up lets the test end
  done.wait();
  EXPECT_TRUE(ok);
}

// post() from the loop's own thread needs no wake-up: the work runs before the loop sleeps.
TEST(EventLoop, PostFromACallbackRunsInTheSameRunOnce) {
  EventLoop loop;
  loop.set_poll_max_ns(0);
  UniqueFd efd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  bool ran = false;
  loop.add_fd(efd.get(), EPOLLIN, [&](uint32_t) {
    uint64_t v;
    [[maybe_unused]] auto r = read(efd.get(), &v, sizeof v);
    loop.post([&] { ran = true; });
  });
  uint64_t one = 1;
  ASSERT_EQ(write(efd.get(), &one, 8), 8);
  EXPECT_GT(loop.run_once(1000), 0);
  EXPECT_TRUE(ran);
  EXPECT_FALSE(loop.on_loop_thread());  // only inside run()/run_once()
  loop.remove_fd(efd.get());
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

// Work posted from the loop's own thread (no lock) and from other threads (locked) all runs,
// including work that posted work posts.
TEST(IoThread, PostsFromTheLoopAndFromOtherThreadsAllRun) {
  constexpr int kPosts = 2000;
  std::atomic<int> ran{0};
  std::promise<void> all;
  IoThread io;
  auto count = [&] {
    if (ran.fetch_add(1) + 1 == 2 * kPosts) all.set_value();
  };
  std::thread other([&] {
    for (int i = 0; i < kPosts / 2; ++i)
      io.loop().post([&] {
        count();
        io.loop().post(count);
      });
  });
  for (int i = 0; i < kPosts / 2; ++i)
    io.loop().post([&] {
      count();
      io.loop().post(count);
    });
  other.join();
  ASSERT_EQ(all.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  io.stop();
  EXPECT_EQ(ran.load(), 2 * kPosts);
}

// The spin works on a snapshot of the pollers: one that a poller adds during the spin is polled
// from the next spin on, and the list being walked is never modified under the walker.
TEST(IoThread, PollerAddedByAPollerDuringASpinIsPolled) {
  std::atomic<int> second_polls{0};
  std::atomic<bool> added{false};
  IoThread io;
  io.loop().set_poll_max_ns(1'000'000'000);
  io.loop().add_poller(
      [&] {
        if (!added.exchange(true)) {
          io.loop().add_poller(
              [&] {
                second_polls.fetch_add(1);
                return false;
              },
              [](bool) {});
        }
        return false;
      },
      [](bool) {});
  io.loop().post([] {});  // an event: a spin follows it
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (second_polls.load() < 10 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_GE(second_polls.load(), 10);
  io.stop();
}

}  // namespace
}  // namespace tandem
