#include "base/event_loop.h"

#include "base/error.h"

#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>

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
