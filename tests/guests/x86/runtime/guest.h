/* The test guests' runtime: port I/O, serial console, printf, boot information, descriptor
 * tables, CPL3 execution, interrupts, LAPIC/IOAPIC, ACPI, TSC. Freestanding C for x86-64. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layout.h"

/* ---- port and memory-mapped I/O ---- */
static inline void outb(uint16_t port, uint8_t v) {
  __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port));
}
static inline void outw(uint16_t port, uint16_t v) {
  __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port));
}
static inline void outl(uint16_t port, uint32_t v) {
  __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port));
}
static inline uint8_t inb(uint16_t port) {
  uint8_t v;
  __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}
static inline uint16_t inw(uint16_t port) {
  uint16_t v;
  __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}
static inline uint32_t inl(uint16_t port) {
  uint32_t v;
  __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}
static inline uint8_t mmio_read8(uint64_t a) {
  return *(volatile uint8_t*)a;
}
static inline uint16_t mmio_read16(uint64_t a) {
  return *(volatile uint16_t*)a;
}
static inline uint32_t mmio_read32(uint64_t a) {
  return *(volatile uint32_t*)a;
}
static inline uint64_t mmio_read64(uint64_t a) {
  return *(volatile uint64_t*)a;
}
static inline void mmio_write8(uint64_t a, uint8_t v) {
  *(volatile uint8_t*)a = v;
}
static inline void mmio_write16(uint64_t a, uint16_t v) {
  *(volatile uint16_t*)a = v;
}
static inline void mmio_write32(uint64_t a, uint32_t v) {
  *(volatile uint32_t*)a = v;
}
static inline void mmio_write64(uint64_t a, uint64_t v) {
  *(volatile uint64_t*)a = v;
}

static inline uint64_t rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
}
static inline void cpu_relax(void) {
  __asm__ volatile("pause" ::: "memory");
}
static inline void cli(void) {
  __asm__ volatile("cli" ::: "memory");
}
static inline void sti(void) {
  __asm__ volatile("sti" ::: "memory");
}
/* sti; hlt: an interrupt arriving between the two still wakes the hlt (interrupt shadow). */
static inline void sti_hlt(void) {
  __asm__ volatile("sti; hlt" ::: "memory");
}
static inline uint64_t read_cr2(void) {
  uint64_t v;
  __asm__ volatile("mov %%cr2, %0" : "=r"(v));
  return v;
}
static inline int current_cpl(void) {
  uint16_t cs;
  __asm__ volatile("mov %%cs, %0" : "=r"(cs));
  return cs & 3;
}

/* ---- strings ---- */
void* memcpy(void* dst, const void* src, size_t n);
void* memmove(void* dst, const void* src, size_t n);
void* memset(void* dst, int c, size_t n);
int memcmp(const void* a, const void* b, size_t n);
size_t strlen(const char* s);
int strcmp(const char* a, const char* b);
int strncmp(const char* a, const char* b, size_t n);
uint32_t crc32(uint32_t crc, const void* data, size_t n); /* IEEE 802.3, as zlib's crc32() */

/* ---- console (polled 16550 at 0x3f8) and exit ---- */
void serial_init(void);
void serial_putc(char c);
bool serial_can_read(void);
int printf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
int vsnprintf(char* buf, size_t size, const char* fmt, va_list ap);
int snprintf(char* buf, size_t size, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
void puts_raw(const char* s);
__attribute__((noreturn)) void debug_exit(uint32_t code);
__attribute__((noreturn, format(printf, 1, 2))) void panic(const char* fmt, ...);

#define CHECK(cond, ...)                                             \
  do {                                                               \
    if (!(cond)) {                                                   \
      printf("CHECK FAILED %s:%d: %s: ", __FILE__, __LINE__, #cond); \
      printf(__VA_ARGS__);                                           \
      printf("\n");                                                  \
      debug_exit(EXIT_CHECK_FAILED);                                 \
    }                                                                \
  } while (0)

/* ---- boot information, whichever protocol delivered it ---- */
#define E820_RAM 1
#define MAX_E820 128
struct e820_entry {
  uint64_t addr;
  uint64_t size;
  uint32_t type;
};
struct boot_info {
  int kind;             /* BOOT_* */
  const char* protocol; /* "bzImage", "pvh", "multiboot" */
  uint64_t info_addr;   /* boot_params / hvm_start_info / mbi */
  char cmdline[2048];
  uint64_t initrd_addr, initrd_size; /* 0 when none */
  int n_e820;
  struct e820_entry e820[MAX_E820];
  uint64_t rsdp; /* from the boot protocol when it gives one (PVH), else 0 */
};
extern struct boot_info boot;

/* True when the command line has `word` as a whole word. */
bool cmdline_has(const char* word);
/* Finds key=value in boot.cmdline. */
bool cmdline_get(const char* key, char* out, size_t size);
/* key=number with an optional K/M/G/T suffix (powers of 1024); decimal or 0x hex. */
bool cmdline_get_u64(const char* key, uint64_t* out);
bool parse_u64(const char* s, uint64_t* out);
/* Type of the e820 range holding [addr, addr+len), or 0 when no single range holds it. */
uint32_t e820_type_of(uint64_t addr, uint64_t len);

/* ---- CPU: descriptor tables, CPL3, interrupts ---- */
struct irq_frame {
  uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
  uint64_t vector, error;
  uint64_t rip, cs, rflags, rsp, ss;
};
typedef void (*irq_handler)(struct irq_frame* frame);
void set_irq_handler(int vector, irq_handler handler);
void load_idt(void);
/* Runs fn(arg) at CPL3 with IOPL 3; returns what fn returns. Interrupts on in user mode iff
 * `interrupts`. */
uint64_t run_user(uint64_t (*fn)(void*), void* arg, uint64_t interrupts);
#define USER_INTERRUPTS_ON 0x200
#define USER_INTERRUPTS_OFF 0

/* ---- LAPIC, IOAPIC, PIC ---- */
#define LAPIC_BASE 0xfee00000ull
#define IOAPIC_BASE 0xfec00000ull
void pic_disable(void);
void lapic_enable(void);
uint32_t lapic_id(void);
void lapic_eoi(void);
void lapic_send_ipi(uint32_t apic_id, uint32_t icr_low);
bool lapic_ipi_pending(void);
/* Routes ISA IRQ `pin` (edge, active high) to `vector` on the CPU with `apic_id`. */
void ioapic_route(int pin, int vector, uint32_t apic_id);
/* Routes `pin` with the given trigger mode and polarity; `masked` leaves it masked. */
void ioapic_route_mode(int pin, int vector, uint32_t apic_id, bool level, bool active_low,
                       bool masked);
uint32_t ioapic_read(uint32_t reg);

/* ---- ACPI ---- */
struct madt_info {
  uint64_t rsdp;
  int n_cpus;
  uint32_t apic_ids[MAX_CPUS];
  uint32_t ioapic_addr;
  uint32_t lapic_addr;
};
/* Scans 0xe0000-0xfffff for the RSDP and reads the MADT. Panics on a malformed table. */
bool acpi_find_madt(struct madt_info* out);
/* Address of the table with signature `sig` (checksum verified; "DSDT" through the FADT), or 0. */
uint64_t acpi_find_table(const char* sig);

/* ---- time ---- */
/* TSC frequency in kHz: tsc_khz= on the command line, else measured with PIT channel 2. */
uint64_t tsc_khz(void);
void udelay(uint64_t us);

/* ---- guest entry points ---- */
/* Each guest defines guest_main (BSP, CPL0, after the runtime set up) and returns an exit code
 * (EXIT_OK on success). */
uint32_t guest_main(void);
/* Called on each application processor (CPL0, long mode); weak default halts. */
void ap_main(void);
