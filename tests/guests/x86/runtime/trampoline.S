/* Real-mode entry for application processors. smp_boot_aps() copies [trampoline_start,
 * trampoline_end) to TRAMPOLINE_BASE (SIPI vector TRAMPOLINE_BASE >> 12); the AP goes to 32-bit
 * protected mode, then long mode on the BSP's page tables, and jumps to ap_long_entry. Only
 * offsets from trampoline_start are used inside, so the copy runs wherever it is put. */
#include "layout.h"

#define REL(x) ((x) - trampoline_start)
#define ABS(x) (TRAMPOLINE_BASE + REL(x))

    .section .rodata.trampoline, "a"
    .code16
    .globl trampoline_start
trampoline_start:
    cli
    cld
    mov %cs, %ax
    mov %ax, %ds
    lgdtl REL(tramp_gdt_desc)
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmpl $KERNEL_CS32, $ABS(tramp32)

    .code32
tramp32:
    mov $KERNEL_DS, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov %cr4, %eax
    or $0x20, %eax               /* PAE */
    mov %eax, %cr4
    mov $pml4, %eax
    mov %eax, %cr3
    mov $0xc0000080, %ecx        /* EFER.LME */
    rdmsr
    or $0x100, %eax
    wrmsr
    mov %cr0, %eax
    or $0x80000001, %eax
    mov %eax, %cr0
    ljmp $KERNEL_CS, $ap_long_entry

    .align 8
tramp_gdt_desc:
    .word GDT_ENTRIES * 8 - 1
    .long gdt
    .globl trampoline_end
trampoline_end:
