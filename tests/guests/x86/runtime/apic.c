/* 8259 PIC (masked), local APIC (xAPIC MMIO) and IOAPIC. */
#include "guest.h"

#define LAPIC_ID 0x20
#define LAPIC_TPR 0x80
#define LAPIC_EOI 0xb0
#define LAPIC_SVR 0xf0
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define LAPIC_LVT_LINT0 0x350

static uint32_t lapic_read(uint32_t reg) {
  return mmio_read32(LAPIC_BASE + reg);
}
static void lapic_write(uint32_t reg, uint32_t v) {
  mmio_write32(LAPIC_BASE + reg, v);
}

void pic_disable(void) {
  /* Remap to 0x20/0x28 (away from the exception vectors) and mask every line: the guests use the
   * IOAPIC. */
  outb(0x20, 0x11);
  outb(0xa0, 0x11);
  outb(0x21, 0x20);
  outb(0xa1, 0x28);
  outb(0x21, 0x04);
  outb(0xa1, 0x02);
  outb(0x21, 0x01);
  outb(0xa1, 0x01);
  outb(0x21, 0xff);
  outb(0xa1, 0xff);
}

void lapic_enable(void) {
  lapic_write(LAPIC_SVR, 0x100 | 0xff);  /* software enable, spurious vector 0xff */
  lapic_write(LAPIC_LVT_LINT0, 0x10000); /* masked: no ExtINT from the PIC */
  lapic_write(LAPIC_TPR, 0);
}

uint32_t lapic_id(void) {
  return lapic_read(LAPIC_ID) >> 24;
}

void lapic_eoi(void) {
  lapic_write(LAPIC_EOI, 0);
}

bool lapic_ipi_pending(void) {
  return lapic_read(LAPIC_ICR_LO) & (1 << 12);
}

void lapic_send_ipi(uint32_t apic_id, uint32_t icr_low) {
  lapic_write(LAPIC_ICR_HI, apic_id << 24);
  lapic_write(LAPIC_ICR_LO, icr_low);
  for (int i = 0; i < 1000000 && lapic_ipi_pending(); i++) cpu_relax();
}

uint32_t ioapic_read(uint32_t reg) {
  mmio_write32(IOAPIC_BASE, reg);
  return mmio_read32(IOAPIC_BASE + 0x10);
}

static void ioapic_write(uint32_t reg, uint32_t v) {
  mmio_write32(IOAPIC_BASE, reg);
  mmio_write32(IOAPIC_BASE + 0x10, v);
}

void ioapic_route(int pin, int vector, uint32_t apic_id) {
  ioapic_write(0x11 + 2 * pin, apic_id << 24);
  ioapic_write(0x10 + 2 * pin, (uint32_t)vector); /* fixed, physical, active high, edge, unmasked */
}

void ioapic_route_mode(int pin, int vector, uint32_t apic_id, bool level, bool active_low,
                       bool masked) {
  uint32_t low = (uint32_t)vector | (active_low ? 1u << 13 : 0) | (level ? 1u << 15 : 0) |
                 (masked ? 1u << 16 : 0);
  ioapic_write(0x11 + 2 * pin, apic_id << 24);
  ioapic_write(0x10 + 2 * pin, low);
}
