#include "hw/misc/debug_exit/debug_exit.h"

#include <gtest/gtest.h>

#include <vector>

#include "memory/io_bus.h"

namespace tandem {
namespace {

struct RecordingControl : VmControl {
  void request_exit(int status) override { exits.push_back(status); }
  void request_reset() override { ++resets; }
  std::vector<int> exits;
  int resets = 0;
};

TEST(DebugExit, ByteWriteExitsWithShiftedStatus) {
  RecordingControl control;
  IoBus pio("pio");
  pio.add(0x501, 2, std::make_shared<DebugExit>(control), "isa-debug-exit");
  uint8_t v = 0;
  ASSERT_TRUE(pio.write(0x501, {&v, 1}));
  v = 0x10;
  ASSERT_TRUE(pio.write(0x502, {&v, 1}));
  EXPECT_EQ(control.exits, (std::vector<int>{1, 0x21}));
  EXPECT_EQ(control.resets, 0);
}

TEST(DebugExit, WiderWritesUseTheWholeValueAndKeepTheLowEightBitsOfTheStatus) {
  RecordingControl control;
  DebugExit dev(control);
  const uint8_t word[] = {0x31, 0x00, 0x00, 0x00};  // outl 0x31 -> (0x31 << 1) | 1 = 0x63
  dev.io_write(0, word);
  const uint8_t high[] = {0x00, 0x01};  // outw 0x100 -> 0x201, exit() keeps 0x01
  dev.io_write(0, high);
  EXPECT_EQ(control.exits, (std::vector<int>{0x63, 0x01}));
  EXPECT_EQ(DebugExit::exit_status(0x7f), 0xff);
  EXPECT_EQ(DebugExit::exit_status(0x80), 0x01);
}

TEST(DebugExit, ReadsReturnZeroAndDoNotExit) {
  RecordingControl control;
  DebugExit dev(control);
  uint8_t data[4] = {0xaa, 0xaa, 0xaa, 0xaa};
  dev.io_read(0, data);
  for (uint8_t b : data) EXPECT_EQ(b, 0);
  EXPECT_TRUE(control.exits.empty());
}

}  // namespace
}  // namespace tandem
