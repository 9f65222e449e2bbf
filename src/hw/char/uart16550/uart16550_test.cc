#include "hw/char/uart16550/uart16550.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "base/event_loop.h"

namespace tandem {
namespace {

enum : uint64_t {
  RBR = 0,
  THR = 0,
  DLL = 0,
  IER = 1,
  DLM = 1,
  IIR = 2,
  FCR = 2,
  LCR = 3,
  MCR = 4,
  LSR = 5,
  MSR = 6,
  SCR = 7
};

struct FakeIrq : IrqLine {
  void set_level(bool asserted) override {
    level = asserted;
    if (asserted) ++rises;
  }
  bool level = false;
  int rises = 0;
};

// Records output; delivers input the way a real backend does (never more than can_receive()).
struct FakeBackend : CharBackend {
  void write(std::span<const uint8_t> data) override { out.append(data.begin(), data.end()); }
  void set_frontend(CharFrontend* f) override { frontend = f; }
  void accept_input() override { ++accepts; }
  // Returns how many bytes the device took.
  size_t deliver(const std::string& bytes) {
    size_t n = std::min(frontend->can_receive(), bytes.size());
    if (n) frontend->receive({reinterpret_cast<const uint8_t*>(bytes.data()), n});
    return n;
  }
  std::string out;
  CharFrontend* frontend = nullptr;
  int accepts = 0;
};

class UartTest : public ::testing::Test {
 protected:
  UartTest() {
    auto backend = std::make_unique<FakeBackend>();
    be = backend.get();
    uart = std::make_unique<Uart16550>(irq, std::move(backend), loop);
  }
  uint8_t rd(uint64_t reg) {
    uint8_t v = 0xee;
    uart->io_read(reg, {&v, 1});
    return v;
  }
  void wr(uint64_t reg, uint8_t v) { uart->io_write(reg, {&v, 1}); }
  // Runs the loop until the IRQ rises or `ms` pass.
  void run_until_irq(int ms) {
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (!irq->level && std::chrono::steady_clock::now() < end) loop.run_once(5);
  }

  EventLoop loop;
  std::shared_ptr<FakeIrq> irq = std::make_shared<FakeIrq>();
  FakeBackend* be;
  std::unique_ptr<Uart16550> uart;
};

TEST_F(UartTest, ResetValues) {
  EXPECT_EQ(rd(IER), 0);
  EXPECT_EQ(rd(IIR), 0x01);
  EXPECT_EQ(rd(LCR), 0);
  EXPECT_EQ(rd(MCR), 0);
  EXPECT_EQ(rd(LSR), 0x60);
  EXPECT_EQ(rd(MSR), 0xb0);
  EXPECT_FALSE(irq->level);
}

TEST_F(UartTest, TransmitGoesToBackend) {
  for (char c : std::string("hi\n")) wr(THR, static_cast<uint8_t>(c));
  EXPECT_EQ(be->out, "hi\n");
  EXPECT_EQ(rd(LSR) & 0x60, 0x60);
}

TEST_F(UartTest, DivisorLatchAndScratch) {
  wr(LCR, 0x83);
  wr(DLL, 0x01);
  wr(DLM, 0x02);
  EXPECT_EQ(rd(DLL), 0x01);
  EXPECT_EQ(rd(DLM), 0x02);
  wr(LCR, 0x03);
  EXPECT_EQ(rd(LCR), 0x03);
  EXPECT_EQ(rd(IER), 0);  // the divisor did not land in IER
  wr(THR, 'a');           // and THR is THR again
  EXPECT_EQ(be->out, "a");
  wr(LCR, 0x83);
  EXPECT_EQ(rd(DLL), 0x01);
  EXPECT_EQ(rd(DLM), 0x02);
  wr(SCR, 0x5a);
  EXPECT_EQ(rd(SCR), 0x5a);
  auto st = uart->save();
  EXPECT_EQ(st.divisor, 0x0201);
}

TEST_F(UartTest, IerKeepsLowNibbleOnly) {
  wr(IER, 0xff);
  EXPECT_EQ(rd(IER), 0x0f);
  wr(MCR, 0xff);
  EXPECT_EQ(rd(MCR), 0x1f);
}

TEST_F(UartTest, ThreInterruptOnEnableClearedByIirReadAndRaisedByThrWrite) {
  wr(MCR, 0x08);  // OUT2: let the interrupt through (PC gate)
  wr(IER, 0x02);
  EXPECT_TRUE(irq->level);
  EXPECT_EQ(rd(IIR), 0x02);
  EXPECT_FALSE(irq->level);  // reading IIR acknowledged THRE
  EXPECT_EQ(rd(IIR), 0x01);  // and it stays acknowledged
  int rises = irq->rises;
  wr(THR, 'x');  // after the byte goes, THRE is pending again: a new edge
  EXPECT_TRUE(irq->level);
  EXPECT_EQ(irq->rises, rises + 1);
  EXPECT_EQ(rd(IIR), 0x02);
  wr(IER, 0x00);
  EXPECT_FALSE(irq->level);
}

TEST_F(UartTest, Out2GatesTheInterruptLine) {
  wr(IER, 0x02);
  EXPECT_FALSE(irq->level);         // pending, but OUT2 is off
  EXPECT_EQ(rd(IIR) & 0x0f, 0x02);  // the chip still reports it
  wr(IER, 0x00);
  wr(MCR, 0x08);
  wr(IER, 0x02);
  EXPECT_TRUE(irq->level);
  wr(MCR, 0x00);
  EXPECT_FALSE(irq->level);
}

TEST(UartNoGate, RaisesWithoutOut2WhenTheBoardHasNoGate) {
  EventLoop loop;
  auto irq = std::make_shared<FakeIrq>();
  Uart16550 uart(irq, std::make_unique<FakeBackend>(), loop, {.out2_gates_irq = false});
  uint8_t v = 0x02;
  uart.io_write(IER, {&v, 1});
  EXPECT_TRUE(irq->level);
}

TEST_F(UartTest, ReceiveWithoutFifoHoldsOneByteAndOverruns) {
  wr(MCR, 0x08);
  wr(IER, 0x01);
  EXPECT_EQ(be->deliver("ab"), 1u);  // 16450 mode: one holding register
  EXPECT_TRUE(irq->level);
  EXPECT_EQ(rd(IIR), 0x04);
  EXPECT_EQ(rd(LSR) & 0x01, 0x01);
  EXPECT_EQ(rd(RBR), 'a');
  EXPECT_FALSE(irq->level);
  EXPECT_EQ(rd(LSR) & 0x01, 0x00);
  EXPECT_EQ(rd(RBR), 'a');  // empty: the last byte again
  // Overrun via loopback (the backend never overruns: it honours can_receive()).
  wr(MCR, 0x18);
  wr(THR, '1');
  wr(THR, '2');
  uint8_t lsr = rd(LSR);
  EXPECT_EQ(lsr & 0x03, 0x03);   // DR + OE
  EXPECT_EQ(rd(LSR) & 0x02, 0);  // OE cleared by the read
  EXPECT_EQ(rd(RBR), '2');       // 16450: the holding register was overwritten
}

TEST_F(UartTest, FifoTriggerLevels) {
  wr(MCR, 0x08);
  wr(FCR, 0x81);  // FIFO on, trigger 8
  EXPECT_EQ(rd(IIR) & 0xc0, 0xc0);
  wr(IER, 0x01);
  EXPECT_EQ(be->deliver("1234567"), 7u);
  EXPECT_FALSE(irq->level);  // below the trigger level
  EXPECT_EQ(rd(IIR), 0xc1);
  EXPECT_EQ(be->deliver("8"), 1u);
  EXPECT_TRUE(irq->level);
  EXPECT_EQ(rd(IIR), 0xc4);
  EXPECT_EQ(rd(RBR), '1');
  EXPECT_FALSE(irq->level);  // 7 left: below the trigger again
  std::string got;
  while (rd(LSR) & 1) got += static_cast<char>(rd(RBR));
  EXPECT_EQ(got, "2345678");
}

TEST_F(UartTest, FifoHoldsSixteenAndPausesTheBackend) {
  wr(FCR, 0xc1);  // trigger 14
  EXPECT_EQ(be->deliver(std::string(20, 'z')), 16u);
  EXPECT_EQ(be->deliver("more"), 0u);  // full: backend must wait
  int accepts = be->accepts;
  EXPECT_EQ(rd(RBR), 'z');
  EXPECT_EQ(be->accepts, accepts + 1);  // room again: the backend is told
  EXPECT_EQ(be->deliver("q"), 1u);
  std::string got;
  while (rd(LSR) & 1) got += static_cast<char>(rd(RBR));
  EXPECT_EQ(got, std::string(15, 'z') + "q");
  EXPECT_EQ(rd(LSR) & 0x02, 0);  // no overrun
}

TEST_F(UartTest, FcrClearsRxFifoAndDisablingFifoClearsIt) {
  wr(FCR, 0x01);
  be->deliver("abc");
  wr(FCR, 0x03);  // reset RX FIFO
  EXPECT_EQ(rd(LSR) & 1, 0);
  be->deliver("abc");
  wr(FCR, 0x00);  // FIFO off
  EXPECT_EQ(rd(LSR) & 1, 0);
  EXPECT_EQ(rd(IIR), 0x01);  // no FIFO bits
}

TEST_F(UartTest, CharacterTimeoutBelowTriggerLevel) {
  wr(MCR, 0x08);
  wr(LCR, 0x83);
  wr(DLL, 1);  // 115200 baud: 4 characters take ~350 us
  wr(DLM, 0);
  wr(LCR, 0x03);
  wr(FCR, 0xc1);  // trigger 14
  wr(IER, 0x01);
  be->deliver("ab");
  EXPECT_FALSE(irq->level);
  run_until_irq(2000);
  ASSERT_TRUE(irq->level) << "no character timeout";
  EXPECT_EQ(rd(IIR), 0xcc);
  EXPECT_EQ(rd(RBR), 'a');  // reading clears the timeout indication
  EXPECT_FALSE(irq->level);
  EXPECT_EQ(rd(IIR), 0xc1);
  run_until_irq(2000);  // one byte left: another timeout later
  ASSERT_TRUE(irq->level);
  EXPECT_EQ(rd(IIR), 0xcc);
  EXPECT_EQ(rd(RBR), 'b');
  run_until_irq(50);  // empty FIFO: no more timeouts
  EXPECT_FALSE(irq->level);
}

TEST_F(UartTest, NoCharacterTimeoutWithoutFifo) {
  wr(MCR, 0x08);
  wr(LCR, 0x83);
  wr(DLL, 1);
  wr(LCR, 0x03);
  be->deliver("a");
  run_until_irq(20);
  EXPECT_FALSE(irq->level);  // ERBFI off
  wr(IER, 0x01);
  EXPECT_EQ(rd(IIR), 0x04);  // 16450 mode: plain data available, never a timeout
}

TEST_F(UartTest, LineStatusInterruptHasPriorityOverData) {
  wr(MCR, 0x18);  // loopback + OUT2 (gated off in loopback on a PC)
  wr(IER, 0x07);
  wr(THR, '1');
  wr(THR, '2');  // 16450 mode: overrun
  EXPECT_EQ(rd(IIR), 0x06);
  EXPECT_FALSE(irq->level);  // loopback forces OUT2 inactive: no IRQ on a PC
  rd(LSR);
  EXPECT_EQ(rd(IIR), 0x04);
  rd(RBR);
  EXPECT_EQ(rd(IIR), 0x02);
  EXPECT_EQ(rd(IIR), 0x01);
}

TEST_F(UartTest, LoopbackEchoesAndDisconnectsOutside) {
  wr(FCR, 0x01);
  wr(MCR, 0x10);
  for (char c : std::string("loop")) wr(THR, static_cast<uint8_t>(c));
  EXPECT_EQ(be->out, "");  // nothing leaves the chip
  EXPECT_EQ(be->deliver("ext"), 0u);
  std::string got;
  while (rd(LSR) & 1) got += static_cast<char>(rd(RBR));
  EXPECT_EQ(got, "loop");
  int accepts = be->accepts;
  wr(MCR, 0x00);
  EXPECT_EQ(be->accepts, accepts + 1);  // leaving loopback resumes input
  EXPECT_EQ(be->deliver("ext"), 3u);
}

TEST_F(UartTest, LoopbackModemLinesAndDeltas) {
  EXPECT_EQ(rd(MSR), 0xb0);
  // Linux's 8250 probe: loopback with RTS|OUT2 must read CTS|DCD.
  wr(MCR, 0x10 | 0x0a);
  uint8_t msr = rd(MSR);
  EXPECT_EQ(msr & 0xf0, 0x90);
  EXPECT_EQ(msr & 0x0f, 0x02);  // DSR dropped (DTR off): DDSR
  EXPECT_EQ(rd(MSR), 0x90);     // deltas cleared by the read
  wr(MCR, 0x10 | 0x0f);         // DTR, RTS, OUT1, OUT2
  EXPECT_EQ(rd(MSR), 0xf2);     // all four; DSR came back: DDSR
  wr(MCR, 0x10 | 0x0b);         // OUT1 off: RI trailing edge
  EXPECT_EQ(rd(MSR), 0xb4);
}

TEST_F(UartTest, ModemStatusInterrupt) {
  wr(MCR, 0x18);
  wr(IER, 0x08);
  EXPECT_EQ(rd(IIR), 0x00);  // deltas from entering loopback
  rd(MSR);
  EXPECT_EQ(rd(IIR), 0x01);
}

TEST_F(UartTest, SaveRestoreRoundTripsAndClampsBadState) {
  wr(FCR, 0x41);
  be->deliver("xyz");
  wr(SCR, 7);
  auto st = uart->save();
  EXPECT_EQ(st.rx_count, 3);
  EXPECT_EQ(st.fcr, 0x41);

  EventLoop loop2;
  auto irq2 = std::make_shared<FakeIrq>();
  Uart16550 other(irq2, std::make_unique<FakeBackend>(), loop2);
  other.restore(st);
  uint8_t v;
  std::string got;
  for (;;) {
    other.io_read(LSR, {&v, 1});
    if (!(v & 1)) break;
    other.io_read(RBR, {&v, 1});
    got += static_cast<char>(v);
  }
  EXPECT_EQ(got, "xyz");
  other.io_read(SCR, {&v, 1});
  EXPECT_EQ(v, 7);

  Uart16550State bad = st;
  bad.rx_head = 200;
  bad.rx_count = 250;
  other.restore(bad);  // must not read out of bounds
  int n = 0;
  for (; n < 100; ++n) {
    other.io_read(LSR, {&v, 1});
    if (!(v & 1)) break;
    other.io_read(RBR, {&v, 1});
  }
  EXPECT_EQ(n, 16);
}

}  // namespace
}  // namespace tandem
