#include "accel/kvm/exit_handler.h"

#include <gtest/gtest.h>

#include <cstring>
#include <mutex>
#include <vector>

#include "accel/kvm/exit_status.h"

namespace tandem::kvm {
namespace {

// Records every access; reads return base_value + offset in each byte.
class RecordingDevice : public IoDevice {
 public:
  struct Access {
    bool write;
    uint64_t offset;
    std::vector<uint8_t> data;
  };
  void io_read(uint64_t offset, std::span<uint8_t> data) override {
    for (auto& b : data) b = static_cast<uint8_t>(0x50 + offset);
    accesses.push_back({false, offset, {data.begin(), data.end()}});
  }
  void io_write(uint64_t offset, std::span<const uint8_t> data) override {
    accesses.push_back({true, offset, {data.begin(), data.end()}});
  }
  std::vector<Access> accesses;
};

class ExitHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pio.add(0x3f8, 8, dev, "dev");
    mmio.add(0xd0000000, 0x1000, dev, "dev");
    ctx.pio = &pio;
    ctx.mmio = &mmio;
    ctx.irqchip = true;
    ctx.vcpu_id = 1;
    ctx.dump_registers = [] { return std::string("rip=0000000000001234\n"); };
    std::memset(buf.data(), 0, buf.size() * sizeof(buf[0]));
  }
  kvm_run& run() { return *reinterpret_cast<kvm_run*>(buf.data()); }
  uint8_t* page() { return reinterpret_cast<uint8_t*>(buf.data()); }
  size_t run_size() const { return buf.size() * sizeof(buf[0]); }

  void set_io(uint8_t dir, uint16_t port, uint8_t size, uint32_t count, uint64_t offset) {
    run().exit_reason = KVM_EXIT_IO;
    run().io.direction = dir;
    run().io.port = port;
    run().io.size = size;
    run().io.count = count;
    run().io.data_offset = offset;
  }

  std::vector<uint64_t> buf = std::vector<uint64_t>(4096 / 8);
  std::shared_ptr<RecordingDevice> dev = std::make_shared<RecordingDevice>();
  IoBus pio{"pio"};
  IoBus mmio{"mmio"};
  ExitContext ctx;
};

TEST_F(ExitHandlerTest, PioWriteReachesDevice) {
  set_io(KVM_EXIT_IO_OUT, 0x3f9, 1, 1, 0x800);
  page()[0x800] = 0x41;
  auto out = handle_exit(run(), run_size(), ctx);
  EXPECT_EQ(out.kind, ExitOutcome::Kind::kContinue);
  ASSERT_EQ(dev->accesses.size(), 1u);
  EXPECT_TRUE(dev->accesses[0].write);
  EXPECT_EQ(dev->accesses[0].offset, 1u);
  EXPECT_EQ(dev->accesses[0].data, std::vector<uint8_t>{0x41});
}

TEST_F(ExitHandlerTest, PioReadFillsRunPage) {
  set_io(KVM_EXIT_IO_IN, 0x3fa, 2, 1, 0x800);
  handle_exit(run(), run_size(), ctx);
  EXPECT_EQ(page()[0x800], 0x52);
  EXPECT_EQ(page()[0x801], 0x52);
}

TEST_F(ExitHandlerTest, UnclaimedPioReadIsAllOnes) {
  set_io(KVM_EXIT_IO_IN, 0x80, 4, 1, 0x800);
  auto out = handle_exit(run(), run_size(), ctx);
  EXPECT_EQ(out.kind, ExitOutcome::Kind::kContinue);
  uint32_t v;
  std::memcpy(&v, page() + 0x800, 4);
  EXPECT_EQ(v, 0xffffffffu);
  EXPECT_TRUE(dev->accesses.empty());
}

TEST_F(ExitHandlerTest, StringPioIsSplitIntoItems) {
  set_io(KVM_EXIT_IO_OUT, 0x3f8, 2, 3, 0x900);
  const uint8_t data[] = {1, 2, 3, 4, 5, 6};
  std::memcpy(page() + 0x900, data, sizeof(data));
  handle_exit(run(), run_size(), ctx);
  ASSERT_EQ(dev->accesses.size(), 3u);
  EXPECT_EQ(dev->accesses[0].data, (std::vector<uint8_t>{1, 2}));
  EXPECT_EQ(dev->accesses[2].data, (std::vector<uint8_t>{5, 6}));

  dev->accesses.clear();
  set_io(KVM_EXIT_IO_IN, 0x3fb, 1, 4, 0x900);
  handle_exit(run(), run_size(), ctx);
  EXPECT_EQ(dev->accesses.size(), 4u);
  EXPECT_EQ(page()[0x903], 0x53);
}

TEST_F(ExitHandlerTest, MalformedIoStopsTheVmInsteadOfOverrunning) {
  set_io(KVM_EXIT_IO_OUT, 0x3f8, 4, 2000, 0x800);  // 8000 bytes past a 4 KiB page
  auto out = handle_exit(run(), run_size(), ctx);
  EXPECT_EQ(out.kind, ExitOutcome::Kind::kStop);
  EXPECT_EQ(out.status, kExitVmmError);
  EXPECT_TRUE(dev->accesses.empty());
  set_io(KVM_EXIT_IO_OUT, 0x3f8, 3, 1, 0x800);
  EXPECT_EQ(handle_exit(run(), run_size(), ctx).kind, ExitOutcome::Kind::kStop);
}

TEST_F(ExitHandlerTest, MmioReadAndWrite) {
  run().exit_reason = KVM_EXIT_MMIO;
  run().mmio.phys_addr = 0xd0000010;
  run().mmio.len = 4;
  run().mmio.is_write = 1;
  uint32_t v = 0xdeadbeef;
  std::memcpy(run().mmio.data, &v, 4);
  handle_exit(run(), run_size(), ctx);
  ASSERT_EQ(dev->accesses.size(), 1u);
  EXPECT_EQ(dev->accesses[0].offset, 0x10u);
  EXPECT_EQ(dev->accesses[0].data, (std::vector<uint8_t>{0xef, 0xbe, 0xad, 0xde}));

  run().mmio.is_write = 0;
  run().mmio.phys_addr = 0xd0000002;
  run().mmio.len = 8;
  handle_exit(run(), run_size(), ctx);
  EXPECT_EQ(run().mmio.data[7], 0x52);

  run().mmio.phys_addr = 0xe0000000;  // nobody there
  run().mmio.len = 2;
  handle_exit(run(), run_size(), ctx);
  EXPECT_EQ(run().mmio.data[0], 0xff);
  EXPECT_EQ(run().mmio.data[1], 0xff);
}

TEST_F(ExitHandlerTest, TripleFaultStopsWithStatus2AndDump) {
  run().exit_reason = KVM_EXIT_SHUTDOWN;
  auto out = handle_exit(run(), run_size(), ctx);
  EXPECT_EQ(out.kind, ExitOutcome::Kind::kStop);
  EXPECT_EQ(out.status, kExitTripleFault);
  EXPECT_EQ(out.status, 2);
  EXPECT_NE(out.message.find("triple fault"), std::string::npos);
  EXPECT_NE(out.message.find("rip=0000000000001234"), std::string::npos);
}

TEST_F(ExitHandlerTest, SystemEvents) {
  run().exit_reason = KVM_EXIT_SYSTEM_EVENT;
  run().system_event.type = KVM_SYSTEM_EVENT_SHUTDOWN;
  auto out = handle_exit(run(), run_size(), ctx);
  EXPECT_EQ(out.kind, ExitOutcome::Kind::kStop);
  EXPECT_EQ(out.status, 0);
  run().system_event.type = KVM_SYSTEM_EVENT_RESET;
  out = handle_exit(run(), run_size(), ctx);
  EXPECT_EQ(out.kind, ExitOutcome::Kind::kStop);
  EXPECT_EQ(out.status, 0);
  run().system_event.type = KVM_SYSTEM_EVENT_CRASH;
  out = handle_exit(run(), run_size(), ctx);
  EXPECT_EQ(out.status, kExitGuestCrash);
  EXPECT_NE(out.status, 0);
  run().system_event.type = 77;
  EXPECT_EQ(handle_exit(run(), run_size(), ctx).status, kExitVmmError);
}

TEST_F(ExitHandlerTest, FailEntryReportsHardwareReason) {
  run().exit_reason = KVM_EXIT_FAIL_ENTRY;
  run().fail_entry.hardware_entry_failure_reason = 0x80000021;
  run().fail_entry.cpu = 1;
  auto out = handle_exit(run(), run_size(), ctx);
  EXPECT_EQ(out.status, kExitVmmError);
  EXPECT_NE(out.message.find("0x80000021"), std::string::npos) << out.message;
}

TEST_F(ExitHandlerTest, InternalErrorReportsSuberrorAndData) {
  run().exit_reason = KVM_EXIT_INTERNAL_ERROR;
  run().internal.suberror = KVM_INTERNAL_ERROR_EMULATION;
  run().internal.ndata = 2;
  run().internal.data[0] = 0xabc;
  run().internal.data[1] = 0x123;
  auto out = handle_exit(run(), run_size(), ctx);
  EXPECT_EQ(out.status, kExitVmmError);
  EXPECT_NE(out.message.find("suberror 1 (instruction emulation failed)"), std::string::npos)
      << out.message;
  EXPECT_NE(out.message.find("0xabc 0x123"), std::string::npos) << out.message;
  run().internal.ndata = 1000;  // clamped to the array, no overrun
  EXPECT_EQ(handle_exit(run(), run_size(), ctx).status, kExitVmmError);
}

TEST_F(ExitHandlerTest, UnknownReasonIsAClearError) {
  run().exit_reason = 9999;
  auto out = handle_exit(run(), run_size(), ctx);
  EXPECT_EQ(out.kind, ExitOutcome::Kind::kStop);
  EXPECT_EQ(out.status, kExitVmmError);
  EXPECT_NE(out.message.find("unexpected KVM exit reason 9999"), std::string::npos);
}

TEST_F(ExitHandlerTest, HltParksOnlyWithoutIrqchip) {
  run().exit_reason = KVM_EXIT_HLT;
  EXPECT_EQ(handle_exit(run(), run_size(), ctx).kind, ExitOutcome::Kind::kContinue);
  ctx.irqchip = false;
  EXPECT_EQ(handle_exit(run(), run_size(), ctx).kind, ExitOutcome::Kind::kHalted);
}

TEST_F(ExitHandlerTest, BenignExitsContinue) {
  for (uint32_t reason : {KVM_EXIT_INTR, KVM_EXIT_IRQ_WINDOW_OPEN, KVM_EXIT_DEBUG}) {
    run().exit_reason = reason;
    EXPECT_EQ(handle_exit(run(), run_size(), ctx).kind, ExitOutcome::Kind::kContinue) << reason;
  }
}

}  // namespace
}  // namespace tandem::kvm
