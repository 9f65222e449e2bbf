// What the command line asks for, independent of how it was spelled (Tandem's long options or
// QEMU's). apps/tandem parses into this; the machines (src/machine/x86, later riscv) build from it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tandem {

enum class MachineKind { kX86, kRiscvVirt };
enum class AccelKind { kKvm, kTcg };

// QEMU's isa-debug-exit: a write of v to the port ends the VMM with status (v << 1) | 1.
struct DebugExitConfig {
  uint16_t iobase = 0x501;
  uint16_t iosize = 2;
};

// Where the guest's serial console goes. "stdio" (default with -nographic), "none", or a file.
struct SerialConfig {
  std::string backend = "stdio";  // "stdio" | "none" | "file:PATH"
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
  std::vector<SerialConfig> serials;  // empty: one "stdio" serial unless nodefaults
  std::vector<DebugExitConfig> debug_exits;  // x86: one at 0x501 unless nodefaults or given
  bool testdev = false;  // -device tandem-testdev: PIO/MMIO/ioeventfd test registers
  std::string log_level;              // empty: TANDEM_LOG or "warn"
};

}  // namespace tandem
