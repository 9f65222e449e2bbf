/* smp guest: finds the CPUs in the ACPI MADT, starts every AP with INIT-SIPI-SIPI through a
 * real-mode trampoline, and checks that each one reaches long mode and reports its APIC id.
 * expect_cpus=N on the command line (the --cpus value) must match the MADT. */
#include "guest.h"

extern uint8_t trampoline_start[], trampoline_end[];
void ap_prepare_stack(int index);

static volatile uint32_t ap_count;
static volatile uint32_t ap_ids[MAX_CPUS];

void ap_main(void) {
  lapic_enable();
  uint32_t id = lapic_id();
  uint32_t slot = __atomic_fetch_add(&ap_count, 1, __ATOMIC_SEQ_CST);
  if (slot < MAX_CPUS) ap_ids[slot] = id + 1; /* 0 means "not yet" */
}

static bool wait_for_count(uint32_t want, uint64_t us) {
  uint64_t end = rdtsc() + us * tsc_khz() / 1000;
  while (__atomic_load_n(&ap_count, __ATOMIC_SEQ_CST) < want)
    if (rdtsc() > end) return false;
  return true;
}

uint32_t guest_main(void) {
  struct madt_info madt;
  CHECK(acpi_find_madt(&madt), "no RSDP in 0xe0000-0xfffff or no MADT");
  printf("smp: rsdp %#lx (boot protocol says %#lx), lapic %#x, ioapic %#x\n", madt.rsdp, boot.rsdp,
         madt.lapic_addr, madt.ioapic_addr);
  CHECK(madt.lapic_addr == LAPIC_BASE, "MADT local APIC address %#x", madt.lapic_addr);
  CHECK(madt.ioapic_addr == IOAPIC_BASE, "MADT IOAPIC address %#x", madt.ioapic_addr);
  uint32_t ioapic_ver = ioapic_read(1);
  printf("smp: ioapic version %#x, %u pins\n", ioapic_ver & 0xff, ((ioapic_ver >> 16) & 0xff) + 1);
  CHECK(((ioapic_ver >> 16) & 0xff) + 1 >= 16, "IOAPIC with too few pins");
  printf("smp: madt lists %d cpus:", madt.n_cpus);
  for (int i = 0; i < madt.n_cpus; i++) printf(" %u", madt.apic_ids[i]);
  printf("\n");
  uint64_t expect;
  if (cmdline_get_u64("expect_cpus", &expect))
    CHECK((uint64_t)madt.n_cpus == expect, "MADT has %d CPUs, expected %lu", madt.n_cpus, expect);

  pic_disable();
  lapic_enable();
  uint32_t bsp = lapic_id();
  bool bsp_listed = false;
  for (int i = 0; i < madt.n_cpus; i++) bsp_listed |= madt.apic_ids[i] == bsp;
  CHECK(bsp_listed, "BSP APIC id %u not in the MADT", bsp);
  printf("smp: bsp apic id %u, tsc %lu kHz\n", bsp, tsc_khz());

  size_t tlen = (size_t)(trampoline_end - trampoline_start);
  if (boot.n_e820)
    CHECK(e820_type_of(TRAMPOLINE_BASE, 4096) == E820_RAM, "trampoline page %#x is not RAM",
          TRAMPOLINE_BASE);
  memcpy((void*)TRAMPOLINE_BASE, trampoline_start, tlen);

  int started = 0;
  for (int i = 0; i < madt.n_cpus; i++) {
    uint32_t id = madt.apic_ids[i];
    if (id == bsp) continue;
    ap_prepare_stack(started);
    uint32_t before = ap_count;
    lapic_send_ipi(id, 0x4500); /* INIT, assert */
    udelay(10000);
    lapic_send_ipi(id, 0x4600 | (TRAMPOLINE_BASE >> 12)); /* STARTUP */
    if (!wait_for_count(before + 1, 1000)) {
      lapic_send_ipi(id, 0x4600 | (TRAMPOLINE_BASE >> 12)); /* second STARTUP, as the MP spec */
      CHECK(wait_for_count(before + 1, 2000000), "AP with APIC id %u did not come up", id);
    }
    started++;
    printf("smp: ap %u up (reported apic id %u)\n", id, ap_ids[before] - 1);
    CHECK(ap_ids[before] - 1 == id, "AP started as %u reports APIC id %u", id, ap_ids[before] - 1);
  }
  CHECK((int)ap_count == madt.n_cpus - 1, "%u APs counted, %d expected", ap_count, madt.n_cpus - 1);
  printf("smp: %d cpus up\n", started + 1);
  return EXIT_OK;
}
