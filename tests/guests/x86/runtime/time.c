#include "guest.h"

static uint64_t khz;

/* PIT channel 2, gated through port 0x61, counts down 20 ms; the TSC delta gives the rate. */
static uint64_t calibrate(void) {
  const uint32_t pit_hz = 1193182, ms = 20, latch = pit_hz * ms / 1000;
  outb(0x61, (inb(0x61) & ~0x02) | 0x01);
  outb(0x43, 0xb0); /* channel 2, lobyte/hibyte, mode 0 */
  outb(0x42, latch & 0xff);
  outb(0x42, latch >> 8);
  uint64_t t0 = rdtsc();
  for (uint64_t i = 0; !(inb(0x61) & 0x20); i++)
    if (i > 100000000) panic("PIT channel 2 never reached zero");
  return (rdtsc() - t0) / ms;
}

uint64_t tsc_khz(void) {
  if (!khz && !cmdline_get_u64("tsc_khz", &khz)) khz = calibrate();
  if (!khz) panic("TSC does not tick");
  return khz;
}

void udelay(uint64_t us) {
  uint64_t end = rdtsc() + us * tsc_khz() / 1000;
  while (rdtsc() < end) cpu_relax();
}
