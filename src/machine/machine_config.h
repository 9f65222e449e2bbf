// What the command line asks for, independent of how it was spelled (Tandem's long options or
// QEMU's). apps/tandem parses into this; the machines (src/machine/x86, later riscv) build from it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tandem {

enum class MachineKind { kX86, kRiscvVirt };
// kInterp: RISC-V on the reference interpreter instead of the translator (slow; for debugging).
enum class AccelKind { kKvm, kTcg, kInterp };

// QEMU's isa-debug-exit: a write of v to the port ends the VMM with status (v << 1) | 1.
struct DebugExitConfig {
  uint16_t iobase = 0x501;
  uint16_t iosize = 2;
};

// Where the guest's serial console goes. "stdio" (default with -nographic), "none", or a file.
struct SerialConfig {
  std::string backend = "stdio";  // "stdio" | "none" | "file:PATH"
};

// One disk image (--drive / QEMU's -drive). Attached to the guest by a virtio-blk device:
// implicitly (if=virtio, the default) or by -device virtio-blk-device,drive=ID (if=none).
struct DriveConfig {
  std::string id;         // QEMU's id=; generated ("drive0", ...) when absent
  std::string file;       // path of the image
  std::string format;     // "raw", "qcow2", or empty: probed from the image (QEMU warns for raw)
  bool readonly = false;  // readonly=on
  std::string cache = "writeback";  // "writeback" | "none" | "unsafe" (QEMU's cache= modes)
  std::string aio = "io_uring";     // "io_uring" | "threads"
  std::string serial;               // virtio-blk GET_ID string (<= 20 bytes)
  bool attach = true;               // false for if=none (only a -device line attaches it)
};

// A virtio device on the machine's virtio-mmio transport, in command-line order.
struct VirtioDeviceConfig {
  enum class Kind { kBlk, kRng, kConsole } kind;
  std::string drive;    // kBlk: DriveConfig::id
  std::string backend;  // kConsole: the host side, as SerialConfig::backend ("null": none)
};

struct MachineConfig {
  MachineKind machine = MachineKind::kX86;
  AccelKind accel = AccelKind::kKvm;
  std::string kernel;
  std::string initrd;
  std::string append;
  std::string bios;
  uint64_t memory_bytes = 512ull << 20;
  unsigned cpus = 1;
  bool nodefaults = false;
  std::vector<SerialConfig> serials;         // empty: one "stdio" serial unless nodefaults
  std::vector<DebugExitConfig> debug_exits;  // x86: one at 0x501 unless nodefaults or given
  std::vector<DriveConfig> drives;
  std::vector<VirtioDeviceConfig> virtio_devices;  // after parsing: one kBlk per attached drive
  bool testdev = false;  // -device tandem-testdev: PIO/MMIO/ioeventfd test registers
  // KVM: the kernel destroys the VM after Tandem has exited (kvm/async_teardown.h). QEMU's
  // -run-with async-teardown=on; unlike QEMU, on by default.
  bool async_teardown = true;
  std::string log_level;  // empty: TANDEM_LOG or "warn"
};

}  // namespace tandem
