/* Finds the RSDP in the BIOS area, the tables it lists (and the DSDT through the FADT), and reads
 * the MADT: local APIC ids and the IOAPIC. Every table is checksummed; a malformed table fails the
 * test (it is what the VMM built). */
#include "guest.h"

static uint8_t sum(uint64_t addr, uint32_t len) {
  uint8_t s = 0;
  for (uint32_t i = 0; i < len; i++) s += mmio_read8(addr + i);
  return s;
}

static uint64_t find_rsdp(void) {
  for (uint64_t a = 0xe0000; a < 0x100000; a += 16) {
    if (memcmp((const void*)a, "RSD PTR ", 8)) continue;
    if (sum(a, 20) != 0) panic("RSDP at %#lx: bad checksum", a);
    if (mmio_read8(a + 15) >= 2 && sum(a, mmio_read32(a + 20)) != 0)
      panic("RSDP at %#lx: bad extended checksum", a);
    return a;
  }
  return 0;
}

static void check_table(uint64_t t, const char* what) {
  uint32_t len = mmio_read32(t + 4);
  if (len < 36 || len > 0x100000) panic("%s at %#lx: length %u", what, t, len);
  if (sum(t, len) != 0) panic("%s at %#lx: bad checksum", what, t);
}

/* The root table (XSDT, else RSDT) and the size of its entries. */
static uint64_t find_root(uint64_t rsdp, int* entry_size) {
  uint64_t root;
  if (mmio_read8(rsdp + 15) >= 2 && mmio_read64(rsdp + 24)) {
    root = mmio_read64(rsdp + 24);
    *entry_size = 8;
    check_table(root, "XSDT");
  } else {
    root = mmio_read32(rsdp + 16);
    *entry_size = 4;
    check_table(root, "RSDT");
  }
  return root;
}

uint64_t acpi_find_table(const char* sig) {
  uint64_t rsdp = find_rsdp();
  if (!rsdp) return 0;
  if (!strcmp(sig, "DSDT")) {
    uint64_t fadt = acpi_find_table("FACP");
    if (!fadt) return 0;
    uint32_t len = mmio_read32(fadt + 4);
    uint64_t dsdt = len >= 148 ? mmio_read64(fadt + 140) : 0;
    if (!dsdt) dsdt = mmio_read32(fadt + 40);
    if (!dsdt || memcmp((const void*)dsdt, "DSDT", 4)) panic("FADT: no DSDT");
    check_table(dsdt, "DSDT");
    return dsdt;
  }
  int entry_size;
  uint64_t root = find_root(rsdp, &entry_size);
  uint32_t root_len = mmio_read32(root + 4);
  for (uint64_t p = root + 36; p + entry_size <= root + root_len; p += entry_size) {
    uint64_t t = entry_size == 8 ? mmio_read64(p) : mmio_read32(p);
    if (t && !memcmp((const void*)t, sig, 4)) {
      check_table(t, sig);
      return t;
    }
  }
  return 0;
}

bool acpi_find_madt(struct madt_info* out) {
  memset(out, 0, sizeof *out);
  uint64_t rsdp = find_rsdp();
  if (!rsdp) return false;
  out->rsdp = rsdp;
  int entry_size;
  uint64_t root = find_root(rsdp, &entry_size);
  uint32_t root_len = mmio_read32(root + 4);
  uint64_t madt = 0;
  for (uint64_t p = root + 36; p + entry_size <= root + root_len; p += entry_size) {
    uint64_t t = entry_size == 8 ? mmio_read64(p) : mmio_read32(p);
    if (t && !memcmp((const void*)t, "APIC", 4)) madt = t;
  }
  if (!madt) return false;
  check_table(madt, "MADT");
  out->lapic_addr = mmio_read32(madt + 36);
  uint32_t len = mmio_read32(madt + 4);
  for (uint64_t p = madt + 44; p + 2 <= madt + len;) {
    uint8_t type = mmio_read8(p), elen = mmio_read8(p + 1);
    if (elen < 2 || p + elen > madt + len) panic("MADT: bad entry length %u at %#lx", elen, p);
    if (type == 0 && elen >= 8) {
      uint32_t flags = mmio_read32(p + 4);
      if ((flags & 1) && out->n_cpus < MAX_CPUS) out->apic_ids[out->n_cpus++] = mmio_read8(p + 3);
    } else if (type == 9 && elen >= 16) {
      uint32_t flags = mmio_read32(p + 8);
      if ((flags & 1) && out->n_cpus < MAX_CPUS) out->apic_ids[out->n_cpus++] = mmio_read32(p + 4);
    } else if (type == 1 && elen >= 12) {
      out->ioapic_addr = mmio_read32(p + 4);
    }
    p += elen;
  }
  return true;
}
