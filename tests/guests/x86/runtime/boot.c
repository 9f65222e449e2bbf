/* kernel_start and the boot protocols' information blocks, copied into `boot` before the guest
 * runs (the guest may reuse low memory afterwards). */
#include "guest.h"

struct boot_info boot;

void cpu_init(void);

static void copy_cmdline(uint64_t addr) {
  if (!addr) return;
  const char* s = (const char*)addr;
  size_t i = 0;
  for (; i + 1 < sizeof boot.cmdline && s[i]; i++) boot.cmdline[i] = s[i];
  boot.cmdline[i] = '\0';
}

static void add_e820(uint64_t addr, uint64_t size, uint32_t type) {
  if (boot.n_e820 >= MAX_E820) panic("more than %d memory map entries", MAX_E820);
  boot.e820[boot.n_e820++] = (struct e820_entry){addr, size, type};
}

static uint8_t rd8(uint64_t a) {
  return *(const volatile uint8_t*)a;
}
static uint32_t rd32(uint64_t a) {
  return *(const volatile uint32_t*)a;
}
static uint64_t rd64(uint64_t a) {
  return *(const volatile uint64_t*)a;
}

static void parse_boot_params(uint64_t bp) {
  boot.protocol = "bzImage";
  if (rd32(bp + 0x202) != 0x53726448) panic("boot_params at %#lx: no HdrS in the header", bp);
  copy_cmdline(rd32(bp + 0x228) | ((uint64_t)rd32(bp + 0x0c8) << 32));
  boot.initrd_addr = rd32(bp + 0x218) | ((uint64_t)rd32(bp + 0x0c0) << 32);
  boot.initrd_size = rd32(bp + 0x21c) | ((uint64_t)rd32(bp + 0x0c4) << 32);
  boot.rsdp = rd64(bp + 0x070);
  int n = rd8(bp + 0x1e8);
  if (n > MAX_E820) panic("boot_params: e820_entries = %d", n);
  for (int i = 0; i < n; i++) {
    uint64_t e = bp + 0x2d0 + 20 * (uint64_t)i;
    add_e820(rd64(e), rd64(e + 8), rd32(e + 16));
  }
}

static void parse_pvh(uint64_t si) {
  boot.protocol = "pvh";
  if (rd32(si) != 0x336ec578) panic("hvm_start_info at %#lx: bad magic %#x", si, rd32(si));
  uint32_t version = rd32(si + 4);
  copy_cmdline(rd64(si + 24));
  boot.rsdp = rd64(si + 32);
  if (rd32(si + 12) > 0) { /* the first module is the initrd */
    uint64_t mod = rd64(si + 16);
    boot.initrd_addr = rd64(mod);
    boot.initrd_size = rd64(mod + 8);
  }
  if (version >= 1) {
    uint64_t map = rd64(si + 40);
    uint32_t n = rd32(si + 48);
    if (n > MAX_E820) panic("hvm_start_info: %u memory map entries", n);
    for (uint32_t i = 0; i < n; i++)
      add_e820(rd64(map + 24 * i), rd64(map + 24 * i + 8), rd32(map + 24 * i + 16));
  }
}

static void parse_multiboot(uint64_t mbi) {
  boot.protocol = "multiboot";
  uint32_t flags = rd32(mbi);
  if (flags & (1 << 2)) copy_cmdline(rd32(mbi + 16));
  if ((flags & (1 << 3)) && rd32(mbi + 20) > 0) {
    uint64_t mod = rd32(mbi + 24);
    boot.initrd_addr = rd32(mod);
    boot.initrd_size = rd32(mod + 4) - rd32(mod);
  }
  if (flags & (1 << 6)) {
    uint64_t p = rd32(mbi + 48), end = p + rd32(mbi + 44);
    while (p + 24 <= end) {
      uint32_t size = rd32(p);
      add_e820(rd64(p + 4), rd64(p + 12), rd32(p + 20));
      p += (uint64_t)size + 4;
    }
  } else if (flags & 1) {
    add_e820(0, (uint64_t)rd32(mbi + 4) << 10, E820_RAM);
    add_e820(0x100000, (uint64_t)rd32(mbi + 8) << 10, E820_RAM);
  }
}

__attribute__((noreturn)) void kernel_start(uint32_t kind, uint64_t info) {
  serial_init();
  cpu_init();
  boot.kind = (int)kind;
  boot.info_addr = info;
  switch (kind) {
    case BOOT_BZIMAGE:
      parse_boot_params(info);
      break;
    case BOOT_PVH:
      parse_pvh(info);
      break;
    case BOOT_MULTIBOOT:
      parse_multiboot(info);
      break;
    default:
      panic("unknown boot kind %u", kind);
  }
  debug_exit(guest_main());
}

bool cmdline_get(const char* key, char* out, size_t size) {
  size_t klen = strlen(key);
  const char* p = boot.cmdline;
  while (*p) {
    while (*p == ' ') p++;
    const char* word = p;
    while (*p && *p != ' ') p++;
    if ((size_t)(p - word) > klen && !strncmp(word, key, klen) && word[klen] == '=') {
      size_t n = (size_t)(p - word) - klen - 1;
      if (n >= size) n = size - 1;
      memcpy(out, word + klen + 1, n);
      out[n] = '\0';
      return true;
    }
  }
  return false;
}

bool cmdline_has(const char* word) {
  size_t len = strlen(word);
  for (const char* p = boot.cmdline; *p;) {
    while (*p == ' ') p++;
    const char* w = p;
    while (*p && *p != ' ') p++;
    if ((size_t)(p - w) == len && !strncmp(w, word, len)) return true;
  }
  return false;
}

bool parse_u64(const char* s, uint64_t* out) {
  uint64_t v = 0;
  int base = 10;
  if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s += 2;
  }
  if (!*s) return false;
  for (; *s; s++) {
    int d;
    if (*s >= '0' && *s <= '9')
      d = *s - '0';
    else if (base == 16 && *s >= 'a' && *s <= 'f')
      d = *s - 'a' + 10;
    else if (base == 16 && *s >= 'A' && *s <= 'F')
      d = *s - 'A' + 10;
    else
      break;
    v = v * base + d;
  }
  int shift = 0;
  switch (*s) {
    case 'K':
    case 'k':
      shift = 10;
      s++;
      break;
    case 'M':
    case 'm':
      shift = 20;
      s++;
      break;
    case 'G':
    case 'g':
      shift = 30;
      s++;
      break;
    case 'T':
    case 't':
      shift = 40;
      s++;
      break;
  }
  if (*s) return false;
  *out = v << shift;
  return true;
}

bool cmdline_get_u64(const char* key, uint64_t* out) {
  char buf[32];
  return cmdline_get(key, buf, sizeof buf) && parse_u64(buf, out);
}

uint32_t e820_type_of(uint64_t addr, uint64_t len) {
  for (int i = 0; i < boot.n_e820; i++) {
    const struct e820_entry* e = &boot.e820[i];
    if (addr >= e->addr && addr - e->addr <= e->size && len <= e->size - (addr - e->addr))
      return e->type;
  }
  return 0;
}
