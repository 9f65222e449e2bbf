/* uart guest: interrupt-driven serial input. IRQ4 goes through the IOAPIC to vector 0x24 on the
 * BSP; the 16550 raises it for received data (IER bit 0, gated by MCR OUT2). The guest halts
 * until input arrives and echoes it uppercased until a '#', then reports how many characters and
 * interrupts it saw. */
#include "guest.h"

#define COM1 0x3f8
#define UART_VECTOR 0x24

static volatile uint8_t ring[256];
static volatile uint32_t head, tail, irqs, overruns;

static void uart_irq(struct irq_frame* f) {
  (void)f;
  irqs++;
  while (inb(COM1 + 5) & 0x01) {
    uint8_t c = inb(COM1);
    if (head - tail < sizeof ring)
      ring[head++ % sizeof ring] = c;
    else
      overruns++;
  }
  lapic_eoi();
}

uint32_t guest_main(void) {
  printf("uart: ready, type text ending with '#'\n");
  pic_disable();
  lapic_enable();
  set_irq_handler(UART_VECTOR, uart_irq);
  ioapic_route(4, UART_VECTOR, lapic_id());
  outb(COM1 + 1, 0x01); /* IER: received data available */
  outb(COM1 + 4, 0x0b); /* MCR: DTR | RTS | OUT2 */
  uint32_t chars = 0;
  for (;;) {
    cli();
    if (head == tail) {
      sti_hlt(); /* an interrupt ends the hlt */
      continue;
    }
    uint8_t c = ring[tail++ % sizeof ring];
    sti();
    if (c == '#') break;
    chars++;
    if (c >= 'a' && c <= 'z') c -= 'a' - 'A';
    if (c == '\r') continue;
    serial_putc((char)c);
  }
  outb(COM1 + 1, 0x00);
  printf("\nuart: %u chars, %u interrupts, %u overruns\n", chars, irqs, overruns);
  CHECK(irqs > 0, "no interrupts");
  CHECK(overruns == 0, "lost input");
  return EXIT_OK;
}
