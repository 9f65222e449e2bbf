/* boot_params guest: prints and checks what the loader handed over (memory map, command line,
 * initrd), whichever protocol delivered it. The test puts the expected values on the command line:
 *   expect_mem=SIZE          guest RAM as given to the VMM (e.g. 512M)
 *   expect_initrd_size=N     initrd length in bytes
 *   expect_initrd_crc=0xC    CRC-32 (zlib's) of the whole initrd
 *   expect_protocol=NAME     bzImage | pvh | multiboot
 * Output lines start with "boot:" so the test can compare them. */
#include "guest.h"

extern uint8_t _start_image[], _end[];

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen) {
  return a < b + blen && b < a + alen;
}

/* Writes and reads back a page that is RAM and holds neither the image nor the initrd. */
static void probe_page(uint64_t addr) {
  volatile uint64_t* p = (volatile uint64_t*)addr;
  for (int i = 0; i < 512; i++) p[i] = addr ^ (0x9e3779b97f4a7c15ull * (uint64_t)i);
  for (int i = 0; i < 512; i++)
    CHECK(p[i] == (addr ^ (0x9e3779b97f4a7c15ull * (uint64_t)i)), "RAM at %#lx does not hold data",
          addr + 8 * i);
  printf("boot: ram probe %#lx ok\n", addr);
}

static bool probe_ok(uint64_t a) {
  uint64_t img = (uint64_t)_start_image, img_len = (uint64_t)(_end - _start_image);
  return a >= 0x100000 && e820_type_of(a, 4096) == E820_RAM && !overlaps(a, 4096, img, img_len) &&
         !overlaps(a, 4096, boot.initrd_addr, boot.initrd_size);
}

static uint64_t check(void* unused) {
  (void)unused;
  printf("boot: cpl %d\n", current_cpl());
  CHECK(current_cpl() == 3, "not running at CPL3");
  printf("boot: protocol %s\n", boot.protocol);
  printf("boot: cmdline \"%s\"\n", boot.cmdline);
  char want[32];
  if (cmdline_get("expect_protocol", want, sizeof want))
    CHECK(!strcmp(want, boot.protocol), "booted by %s, expected %s", boot.protocol, want);

  /* Memory map: sorted, non-overlapping, RAM adds up to what the VMM was given. */
  uint64_t ram = 0, prev_end = 0, top = 0;
  CHECK(boot.n_e820 > 0, "no memory map");
  for (int i = 0; i < boot.n_e820; i++) {
    const struct e820_entry* e = &boot.e820[i];
    printf("boot: e820 %#012lx-%#012lx type %u\n", e->addr, e->addr + e->size - 1, e->type);
    CHECK(e->size > 0, "empty e820 entry %d", i);
    CHECK(e->addr >= prev_end, "e820 entry %d overlaps or is out of order", i);
    prev_end = e->addr + e->size;
    if (e->type == E820_RAM) {
      ram += e->size;
      if (e->addr + e->size > top) top = e->addr + e->size;
    }
  }
  printf("boot: ram %lu KiB\n", ram >> 10);
  CHECK(e820_type_of((uint64_t)_start_image, (uint64_t)(_end - _start_image)) == E820_RAM,
        "the kernel image at %p is not in RAM", (void*)_start_image);
  uint64_t expect_mem;
  if (cmdline_get_u64("expect_mem", &expect_mem)) {
    /* Firmware and the VMM may keep a little (real-mode IVT/BDA/EBDA, ACPI tables), not more. */
    CHECK(ram <= expect_mem, "%lu KiB of RAM in the map, more than the %lu KiB given", ram >> 10,
          expect_mem >> 10);
    CHECK(ram + (4ull << 20) >= expect_mem, "only %lu KiB of RAM in the map, expected ~%lu KiB",
          ram >> 10, expect_mem >> 10);
  }

  /* The initrd: where, how big, what is in it. */
  printf("boot: initrd addr %#lx size %lu\n", boot.initrd_addr, boot.initrd_size);
  uint64_t expect_size;
  if (cmdline_get_u64("expect_initrd_size", &expect_size)) {
    CHECK(boot.initrd_size == expect_size, "initrd size %lu, expected %lu", boot.initrd_size,
          expect_size);
    CHECK(boot.initrd_addr != 0, "no initrd address");
    CHECK(e820_type_of(boot.initrd_addr, boot.initrd_size) == E820_RAM,
          "initrd [%#lx, +%lu) is not inside one RAM range", boot.initrd_addr, boot.initrd_size);
    CHECK(!overlaps(boot.initrd_addr, boot.initrd_size, (uint64_t)_start_image,
                    (uint64_t)(_end - _start_image)),
          "initrd overlaps the kernel image (init_size ignored?)");
  }
  if (boot.initrd_size) {
    const uint8_t* p = (const uint8_t*)boot.initrd_addr;
    printf("boot: initrd head");
    for (uint64_t i = 0; i < 16 && i < boot.initrd_size; i++) printf(" %02x", p[i]);
    printf("\n");
    uint32_t crc = crc32(0, p, boot.initrd_size);
    printf("boot: initrd crc32 %#010x\n", crc);
    uint64_t expect_crc;
    if (cmdline_get_u64("expect_initrd_crc", &expect_crc))
      CHECK(crc == expect_crc, "initrd crc32 %#x, expected %#lx", crc, expect_crc);
  }

  /* The top of RAM and the middle of RAM really hold data (below 4 GiB: the guest maps no more). */
  if (top > (4ull << 30)) top = 4ull << 30;
  for (uint64_t a = (top - 4096) & ~4095ull; a >= 0x100000; a -= 4096)
    if (probe_ok(a)) {
      probe_page(a);
      break;
    }
  for (uint64_t a = (top / 2) & ~4095ull; a >= 0x100000; a -= 4096)
    if (probe_ok(a)) {
      probe_page(a);
      break;
    }
  printf("boot: all checks passed\n");
  return EXIT_OK;
}

uint32_t guest_main(void) {
  if (boot.kind == BOOT_BZIMAGE) {
    /* The loader must say who it is (boot.rst: type_of_loader is obligatory). */
    uint8_t type_of_loader = *(volatile uint8_t*)(boot.info_addr + 0x210);
    printf("boot: type_of_loader %#x\n", type_of_loader);
    CHECK(type_of_loader != 0, "the loader did not set type_of_loader");
  }
  return (uint32_t)run_user(check, NULL, USER_INTERRUPTS_OFF);
}
