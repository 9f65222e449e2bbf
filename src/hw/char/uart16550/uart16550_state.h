// Everything a 16550A holds, as plain data, for snapshots (Uart16550::save/restore).
#pragma once

#include <array>
#include <cstdint>

namespace tandem {

struct Uart16550State {
  std::array<uint8_t, 16> rx_fifo{};  // ring buffer
  uint8_t rx_head = 0;                // index of the oldest byte
  uint8_t rx_count = 0;
  uint8_t rbr = 0;        // last byte read; what RBR returns when the FIFO is empty
  uint16_t divisor = 12;  // 9600 baud, what a PC BIOS leaves behind
  uint8_t ier = 0;
  uint8_t fcr = 0;  // bits 0 (FIFO enable), 3 (DMA mode), 7:6 (RX trigger) as written
  uint8_t lcr = 0;
  uint8_t mcr = 0;
  uint8_t lsr_errors = 0;  // OE/PE/FE/BI bits, cleared by reading LSR
  uint8_t msr = 0xb0;      // DCD, DSR, CTS asserted (no real modem lines), deltas in bits 3:0
  uint8_t scr = 0;
  bool thr_ipending = false;      // THR-empty interrupt condition (cleared by IIR read/THR write)
  bool timeout_ipending = false;  // character timeout indication (FIFO mode)
};

}  // namespace tandem
