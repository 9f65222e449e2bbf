#include "machine/riscv/virtio_slots.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/error.h"
#include "base/event_loop.h"
#include "hw/core/vm_control.h"
#include "hw/riscv/fake_hart_sink.h"
#include "hw/riscv/plic/plic.h"
#include "hw/virtio/console/virtio_console.h"
#include "hw/virtio/test_driver.h"
#include "hw/virtio/virtio_defs.h"
#include "hw/virtio/virtio_mmio.h"
#include "machine/riscv/virt_memory_map.h"

namespace tandem::riscv {
namespace {

using Kind = VirtioDeviceConfig::Kind;
constexpr uint64_t kRamBase = 0x80000000;
constexpr uint64_t kRamSize = 1 << 20;
constexpr uint64_t kVersion1 = virtio::feature_bit(virtio::kFeatureVersion1);

class NoControl final : public VmControl {
 public:
  void request_exit(int) override {}
  void request_reset() override {}
};

struct Board {
  explicit Board(const MachineConfig& config) {
    ram.add_region(kRamBase, kRamSize);
    plic = std::make_shared<Plic>(1, sink);
    slots = std::make_unique<VirtioSlots>(config, ram, *plic, loop, control, bus);
  }
  ~Board() {
    bus = IoBus("gone");  // the bus lets go of the transports before the slots go
  }
  uint32_t reg(unsigned slot, uint64_t offset) {
    uint32_t v = 0;
    EXPECT_TRUE(bus.read(virt::virtio_base(slot) + offset, {reinterpret_cast<uint8_t*>(&v), 4}));
    return v;
  }
  bool plic_pending(unsigned source) {
    uint32_t word = 0;
    plic->io_read(Plic::kPendingBase + 4 * (source / 32), {reinterpret_cast<uint8_t*>(&word), 4});
    return (word >> (source % 32)) & 1;
  }
  void drain() {
    while (loop.run_once(0) > 0) {
    }
  }

  GuestRam ram;
  FakeHartSink sink;
  std::shared_ptr<Plic> plic;
  EventLoop loop;
  NoControl control;
  IoBus bus{"mmio"};
  std::unique_ptr<VirtioSlots> slots;
};

MachineConfig with_devices(std::vector<VirtioDeviceConfig> devices) {
  MachineConfig c;
  c.machine = MachineKind::kRiscvVirt;
  c.serials = {SerialConfig{"none"}};
  c.virtio_devices = std::move(devices);
  return c;
}

TEST(VirtioSlots, FirstDeviceTakesTheHighestSlotAsQemu) {
  Board b(with_devices({{Kind::kRng, {}, {}}, {Kind::kConsole, {}, "null"}}));
  EXPECT_EQ(b.reg(7, testing::kDeviceId), virtio::kDeviceIdEntropy);
  EXPECT_EQ(b.reg(6, testing::kDeviceId), virtio::kDeviceIdConsole);
  EXPECT_NE(b.slots->transport(7), nullptr);
  EXPECT_NE(b.slots->transport(6), nullptr);
  for (unsigned slot = 0; slot < 8; ++slot) {
    EXPECT_EQ(b.reg(slot, testing::kMagic), VirtioMmio::kMagic) << slot;
    EXPECT_EQ(b.reg(slot, testing::kVersion), 2u) << slot;
    EXPECT_EQ(b.reg(slot, testing::kVendorId), VirtioMmio::kVendorId) << slot;
    if (slot < 6) {
      EXPECT_EQ(b.reg(slot, testing::kDeviceId), 0u) << slot;
      EXPECT_EQ(b.slots->transport(slot), nullptr) << slot;
    }
  }
  // Each slot is QEMU's 0x200-byte window; the rest of the 4 KiB stride is unclaimed.
  uint32_t v = 0;
  EXPECT_FALSE(b.bus.read(virt::virtio_base(0) + 0x200, {reinterpret_cast<uint8_t*>(&v), 4}));
}

TEST(VirtioSlots, EmptySlotReadsNarrowAndIgnoresWrites) {
  Board b(with_devices({}));
  uint8_t byte = 0;
  ASSERT_TRUE(b.bus.read(virt::virtio_base(3) + 1, {&byte, 1}));
  EXPECT_EQ(byte, (VirtioMmio::kMagic >> 8) & 0xff);
  uint32_t status = 0xf;
  EXPECT_TRUE(b.bus.write(virt::virtio_base(3) + testing::kStatus,
                          {reinterpret_cast<uint8_t*>(&status), 4}));
  EXPECT_EQ(b.reg(3, testing::kStatus), 0u);
  EXPECT_EQ(b.reg(3, testing::kQueueNumMax), 0u);
}

// The rng in slot 7 interrupts on PLIC source 8 (QEMU's VIRTIO_IRQ + slot), and only there.
TEST(VirtioSlots, InterruptsReachThePlicSourceOfTheSlot) {
  Board b(with_devices({{Kind::kRng, {}, {}}}));
  testing::TestDriver d(*b.slots->transport(7), b.ram, kRamBase, kRamSize);
  ASSERT_TRUE(d.init(kVersion1, 1, 8));
  const uint64_t buf = d.alloc(32);
  d.add_chain(0, {{buf, 32, true}});
  d.kick(0);
  b.drain();
  ASSERT_TRUE(d.get_used(0));
  EXPECT_TRUE(b.plic_pending(8));
  for (unsigned other = 1; other <= 7; ++other) EXPECT_FALSE(b.plic_pending(other)) << other;
}

TEST(VirtioSlots, ConsoleOutputReachesItsBackend) {
  const std::filesystem::path out =
      std::filesystem::temp_directory_path() / ("tandem-hvc-" + std::to_string(getpid()));
  {
    Board b(with_devices({{Kind::kConsole, {}, "file:" + out.string()}}));
    testing::TestDriver d(*b.slots->transport(7), b.ram, kRamBase, kRamSize);
    ASSERT_TRUE(d.init(kVersion1, 2, 8));
    const char text[] = "hello from hvc0\n";
    const uint64_t buf = d.alloc(sizeof text);
    b.ram.write_or_throw(buf, std::span(reinterpret_cast<const uint8_t*>(text), sizeof text - 1));
    d.add_chain(VirtioConsole::kTransmitQueue, {{buf, sizeof text - 1, false}});
    d.kick(VirtioConsole::kTransmitQueue);
    b.drain();
    EXPECT_TRUE(d.get_used(VirtioConsole::kTransmitQueue));
  }
  std::ifstream in(out);
  std::stringstream ss;
  ss << in.rdbuf();
  std::filesystem::remove(out);
  EXPECT_EQ(ss.str(), "hello from hvc0\n");
}

// A disk: the drive's image behind virtio-blk, its size in the config space.
TEST(VirtioSlots, DiskFromADrive) {
  const std::filesystem::path image =
      std::filesystem::temp_directory_path() / ("tandem-slot-disk-" + std::to_string(getpid()));
  std::ofstream(image).close();
  std::filesystem::resize_file(image, 1 << 20);
  MachineConfig c = with_devices({{Kind::kRng, {}, {}}, {Kind::kBlk, "disk", {}}});
  DriveConfig drive;
  drive.id = "disk";
  drive.file = image.string();
  drive.aio = "threads";
  c.drives = {drive};
  {
    Board b(c);
    EXPECT_EQ(b.reg(6, testing::kDeviceId), virtio::kDeviceIdBlock);
    EXPECT_EQ(b.reg(6, testing::kConfig), (1u << 20) / 512);  // capacity, low word
    EXPECT_EQ(b.reg(6, testing::kConfig + 4), 0u);
  }
  c.virtio_devices[1].drive = "other";
  EXPECT_THROW(Board{c}, Error);
  std::filesystem::remove(image);
}

TEST(VirtioSlots, EightDevicesFillEverySlotAndNineAreTooMany) {
  std::vector<VirtioDeviceConfig> eight(8, VirtioDeviceConfig{Kind::kRng, {}, {}});
  Board b(with_devices(eight));
  for (unsigned slot = 0; slot < 8; ++slot) {
    EXPECT_EQ(b.reg(slot, testing::kDeviceId), virtio::kDeviceIdEntropy) << slot;
  }
  eight.push_back(eight[0]);
  try {
    Board nine(with_devices(eight));
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("8 virtio-mmio slots"), std::string::npos) << e.what();
  }
}

// One terminal serves one device: a console on stdio next to the default serial is refused
// before anything touches the terminal.
TEST(VirtioSlots, StdioConsoleNeedsTheTerminalFree) {
  MachineConfig c = with_devices({{Kind::kConsole, {}, "stdio"}});
  c.serials.clear();  // the default serial port is on stdio
  try {
    Board b(c);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("already the serial console"), std::string::npos)
        << e.what();
  }
  c.serials = {SerialConfig{"mon:stdio"}};
  EXPECT_THROW(Board{c}, Error);
  c.serials = {SerialConfig{"none"}};
  c.virtio_devices.push_back(c.virtio_devices[0]);  // two consoles on stdio
  EXPECT_THROW(Board{c}, Error);
}

}  // namespace
}  // namespace tandem::riscv
