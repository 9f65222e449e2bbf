/* GDT/TSS/IDT set-up, interrupt dispatch, exception reports, the way back from CPL3, the AP entry.
 */
#include "guest.h"

extern uint64_t gdt[];
extern uint8_t gdt_tss[], tss[], tss_end[];
extern uint8_t isr_stubs[];
extern uint8_t ap_stacks[], ap_stacks_end[];
extern uint64_t ap_stack_top;
__attribute__((noreturn)) void resume_kernel(uint64_t value);
extern uint8_t user_exit_trap[];

struct idt_entry {
  uint16_t offset_lo, selector;
  uint8_t ist, type_attr;
  uint16_t offset_mid;
  uint32_t offset_hi, zero;
} __attribute__((packed));

static struct idt_entry idt[256];
static irq_handler handlers[256];

static void set_gate(int vec, int dpl, int ist) {
  uint64_t addr = (uint64_t)(isr_stubs + 16 * vec);
  idt[vec] = (struct idt_entry){
      .offset_lo = (uint16_t)addr,
      .selector = KERNEL_CS,
      .ist = (uint8_t)ist,
      .type_attr = (uint8_t)(0x8e | (dpl << 5)), /* present, 64-bit interrupt gate */
      .offset_mid = (uint16_t)(addr >> 16),
      .offset_hi = (uint32_t)(addr >> 32),
  };
}

void load_idt(void) {
  struct {
    uint16_t limit;
    uint64_t base;
  } __attribute__((packed)) desc = {sizeof idt - 1, (uint64_t)idt};
  __asm__ volatile("lidt %0" ::"m"(desc));
}

void cpu_init(void) {
  uint64_t base = (uint64_t)tss, limit = (uint64_t)(tss_end - tss) - 1;
  uint64_t lo = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
                (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
  memcpy(gdt_tss, &lo, 8);
  uint64_t hi = base >> 32;
  memcpy(gdt_tss + 8, &hi, 8);
  __asm__ volatile("ltr %w0" ::"r"(TSS_SEL));
  for (int v = 0; v < 256; v++) set_gate(v, 0, v == 8 ? 1 : 0);
  load_idt();
}

void set_irq_handler(int vector, irq_handler handler) {
  handlers[vector] = handler;
}

static const char* const exception_names[32] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS",
    "#NP", "#SS", "#GP", "#PF", "?15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP"};

void isr_dispatch(struct irq_frame* f) {
  uint64_t v = f->vector;
  if (v == 6 && (f->cs & 3) == 3 && f->rip == (uint64_t)user_exit_trap && f->rax == SYS_EXIT_USER)
    resume_kernel(f->rdi);
  if (handlers[v]) {
    handlers[v](f);
    return;
  }
  if (v < 32) {
    const char* name = exception_names[v] ? exception_names[v] : "?";
    printf("EXCEPTION %lu %s err=%#lx rip=%#lx cs=%#lx rflags=%#lx rsp=%#lx cr2=%#lx\n", v, name,
           f->error, f->rip, f->cs, f->rflags, f->rsp, read_cr2());
    debug_exit(EXIT_EXCEPTION + (uint32_t)v);
  }
  if (v == 0xff) return; /* LAPIC spurious vector: no EOI */
  printf("UNEXPECTED INTERRUPT vector %lu rip=%#lx\n", v, f->rip);
  debug_exit(EXIT_UNEXPECTED_IRQ);
}

/* ---- application processors ---- */

__attribute__((weak)) void ap_main(void) {
  for (;;) __asm__ volatile("cli; hlt");
}

void ap_start(void) {
  load_idt();
  ap_main();
  for (;;) __asm__ volatile("cli; hlt");
}

/* Stack for the next AP to start (one AP at a time). */
void ap_prepare_stack(int index) {
  ap_stack_top = (uint64_t)(ap_stacks + AP_STACK_SIZE * (uint64_t)(index + 1));
  if (ap_stack_top > (uint64_t)ap_stacks_end) panic("no stack for AP %d", index);
}
