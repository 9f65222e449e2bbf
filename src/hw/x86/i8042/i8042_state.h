// Everything the PS/2 controller holds, as plain data, for snapshots (I8042::save/restore).
#pragma once

#include <array>
#include <cstdint>

namespace tandem {

struct I8042State {
  // Output buffer: bytes waiting for the guest at port 0x60, oldest first. Each has a source:
  // the keyboard side (IRQ1) or the aux/mouse side (IRQ12, status bit 5), and whether it reports
  // a timeout (status bit 6: a device did not answer).
  struct OutByte {
    uint8_t value = 0;
    bool aux = false;
    bool timeout = false;
  };
  std::array<OutByte, 16> out{};
  uint8_t out_head = 0;
  uint8_t out_count = 0;
  uint8_t last_out = 0;                // what port 0x60 reads when the buffer is empty
  std::array<uint8_t, 32> ram{};       // controller RAM; ram[0] is the configuration byte
                                       // (bit 2, the system flag, shows in status bit 2)
  uint8_t pending_command = 0;         // a command waiting for its data byte at port 0x60, or 0
  uint8_t output_port = 0xcf;          // reset line (bit 0) and A20 (bit 1) high
  bool last_write_was_command = true;  // status bit 3
};

}  // namespace tandem
