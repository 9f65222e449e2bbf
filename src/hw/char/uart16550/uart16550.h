// An NS16550A UART: eight registers at consecutive ports (PC COM1 at 0x3f8) or MMIO offsets.
//
// Faithful where software can tell: DLAB divisor latches; 16-byte RX FIFO with the four trigger
// levels and the character-timeout indication (after four character times without RX activity,
// timed from the programmed baud rate and frame format on the event loop); THRE interrupt
// semantics (raised when ETBEI is enabled with THR empty and after each transmitted byte, cleared
// by reading IIR while it is the source or by writing THR); IIR priorities (line status > RX
// data/timeout > THRE > modem status); overrun; loopback (MCR bit 4) with the modem outputs fed
// back into MSR; MSR delta bits; scratch register.
// Transmission is instantaneous (the host is faster than any baud rate), so THRE and TEMT are set
// again as soon as a byte is written, and there is no TX FIFO to fill.
#pragma once

#include <memory>
#include <mutex>

#include "base/unique_fd.h"
#include "hw/char/char_backend.h"
#include "hw/char/uart16550/uart16550_state.h"
#include "hw/core/irq.h"
#include "memory/io_bus.h"

namespace tandem {

class EventLoop;
struct UartTimerLink;

class Uart16550 final : public IoDevice, private CharFrontend {
 public:
  struct Options {
    // PC boards AND the UART's interrupt output with OUT2 (MCR bit 3): the IRQ reaches the PIC
    // only while OUT2 is set, and never in loopback mode (the chip forces its OUT2 pin inactive
    // then). Linux's 8250 driver sets OUT2 on x86 and clears it when the port is closed, and
    // bare-metal PC code sets it too (MCR = 0x0b), so gating is what PC software expects.
    // QEMU raises the line regardless of OUT2; boards without the gate (RISC-V virt's ns16550a,
    // where firmware never sets OUT2) pass false.
    bool out2_gates_irq = true;
  };

  // Reads registers at offsets 0..7. `loop` runs the character-timeout timer and must outlive
  // the device; `backend` gets the transmitted bytes and delivers received ones.
  Uart16550(std::shared_ptr<IrqLine> irq, std::unique_ptr<CharBackend> backend, EventLoop& loop,
            Options options);
  Uart16550(std::shared_ptr<IrqLine> irq, std::unique_ptr<CharBackend> backend, EventLoop& loop)
      : Uart16550(std::move(irq), std::move(backend), loop, Options{}) {}
  ~Uart16550() override;

  void io_read(uint64_t offset, std::span<uint8_t> data) override;
  void io_write(uint64_t offset, std::span<const uint8_t> data) override;

  Uart16550State save() const;
  // Loads a saved state (untrusted: FIFO indices are clamped) and re-evaluates the IRQ line.
  void restore(const Uart16550State& state);

 private:
  // CharFrontend (I/O thread).
  size_t can_receive() override;
  void receive(std::span<const uint8_t> data) override;

  uint8_t read_register(unsigned reg);
  void write_register(unsigned reg, uint8_t value);

  // All below: mutex_ held.
  bool fifo_enabled() const { return s_.fcr & 1; }
  size_t rx_capacity() const { return fifo_enabled() ? 16 : 1; }
  unsigned rx_trigger() const;
  void push_rx(uint8_t byte);
  void clear_rx();
  uint8_t lsr() const;
  uint8_t iir() const;
  uint8_t modem_inputs() const;
  void set_modem_inputs(uint8_t old_inputs);
  void update_irq();
  void restart_rx_timer();
  void on_timer();

  std::shared_ptr<IrqLine> irq_;
  std::unique_ptr<CharBackend> backend_;
  EventLoop& loop_;
  const Options options_;
  UniqueFd timer_;
  std::shared_ptr<UartTimerLink> link_;

  mutable std::mutex mutex_;
  Uart16550State s_;
  bool irq_level_ = false;
  bool backend_waiting_ = false;  // can_receive() said 0; call accept_input() when there is room
  bool accept_pending_ = false;   // set under the lock, acted on after it (see io_read)
  int64_t rx_deadline_ns_ = 0;    // CLOCK_MONOTONIC time of the character timeout; 0: none
  bool timer_armed_ = false;
  int64_t timer_deadline_ns_ = 0;
};

}  // namespace tandem
