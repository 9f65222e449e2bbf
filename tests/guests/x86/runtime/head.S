/* Entry points of every test guest. The image is linked at 0x100000 and has four ways in:
 *   startup_32   at +0x000: Linux 32-bit boot protocol (esi = boot_params, flat CS 0x10/DS 0x18)
 *   kernel_info  at +0x080: the boot protocol 2.15 kernel_info block ("LToP")
 *   (multiboot)  at +0x100: the multiboot v1 header, only in the .multiboot build
 *   startup_64   at +0x200: Linux 64-bit boot protocol (rsi = boot_params, identity paging)
 *   pvh_start32:            PVH (ebx = hvm_start_info), named by the Xen ELF note
 *   mb_start32:             multiboot v1 (eax = 0x2BADB002, ebx = mbi)
 * Every path loads the guest's own GDT and page tables (identity map of 4 GiB, user-accessible)
 * and calls kernel_start(kind, info) in 64-bit mode on the BSP stack. */
#include "layout.h"

#define MSR_EFER 0xc0000080
#define EFER_LME 0x100
#define CR0_PE 0x1
#define CR0_PG 0x80000000
#define CR4_PAE 0x20

    .section .head32, "ax"
    .code32
    .globl startup_32
startup_32:
    mov $BOOT_BZIMAGE, %edi
    jmp common32

    .org 0x80
    .globl kernel_info
kernel_info:                 /* Documentation/arch/x86/boot.rst: kernel_info */
    .ascii "LToP"
    .long kernel_info_end - kernel_info /* size */
    .long kernel_info_end - kernel_info /* size_total */
    .long 0                             /* setup_type_max */
kernel_info_end:

    .section .head64, "ax"
    .code64
    .globl startup_64
startup_64:
    cli
    cld
    mov $BOOT_BZIMAGE, %edi
    /* rsi = boot_params. The loader's page tables map us; switch to ours (same identity map). */
    lgdt gdt_desc
    mov $pml4, %eax
    mov %rax, %cr3
    mov $boot_stack_top, %rsp
    pushq $KERNEL_CS
    pushq $start64
    lretq

    .text
    .code32
    .globl pvh_start32
pvh_start32:
    mov %ebx, %esi
    mov $BOOT_PVH, %edi
    jmp common32

    .globl mb_start32
mb_start32:
    cmp $0x2badb002, %eax
    jne 1f
    mov %ebx, %esi
    mov $BOOT_MULTIBOOT, %edi
    jmp common32
1:  hlt
    jmp 1b

/* 32-bit protected mode, paging off; edi = kind, esi = info. The GDTR may be invalid. */
common32:
    cli
    cld
    lgdt gdt_desc
    ljmp $KERNEL_CS32, $1f
1:  mov $KERNEL_DS, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov %eax, %fs
    mov %eax, %gs
    mov %cr4, %eax
    or $CR4_PAE, %eax
    mov %eax, %cr4
    mov $pml4, %eax
    mov %eax, %cr3
    mov %edi, %ebp               /* rdmsr/wrmsr clobber edx:eax and use ecx */
    mov $MSR_EFER, %ecx
    rdmsr
    or $EFER_LME, %eax
    wrmsr
    mov %ebp, %edi
    mov %cr0, %eax
    or $(CR0_PE | CR0_PG), %eax
    mov %eax, %cr0
    ljmp $KERNEL_CS, $long_entry

    .code64
long_entry:
    mov %edi, %edi               /* upper halves are undefined after the mode switch */
    mov %esi, %esi
    mov $boot_stack_top, %rsp
start64:
    mov $KERNEL_DS, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    xor %eax, %eax
    mov %eax, %fs
    mov %eax, %gs
    mov %rdi, %r12
    mov %rsi, %r13
    mov $__bss_start, %rdi
    mov $__bss_end, %rcx
    sub %rdi, %rcx
    shr $3, %rcx
    xor %eax, %eax
    rep stosq
    mov %r12, %rdi
    mov %r13, %rsi
    xor %ebp, %ebp
    call kernel_start
2:  cli
    hlt
    jmp 2b

/* Application processors arrive here from the trampoline, in long mode on our page tables. */
    .globl ap_long_entry
ap_long_entry:
    mov $KERNEL_DS, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov ap_stack_top(%rip), %rsp
    xor %ebp, %ebp
    call ap_start
3:  cli
    hlt
    jmp 3b

/* uint64_t run_user(uint64_t (*fn)(void *), void *arg, uint64_t rflags_if)
 * Runs fn(arg) at CPL3 (IOPL 3 and an all-open I/O bitmap, so it may use port I/O) on the user
 * stack; returns fn's value when fn returns (through user_return's ud2). Interrupts from CPL3
 * land on the stack below this frame (TSS.rsp0 = the rsp saved here). */
    .globl run_user
run_user:
    push %rbx
    push %rbp
    push %r12
    push %r13
    push %r14
    push %r15
    mov kernel_saved_rsp(%rip), %rax
    push %rax                    /* nested run_user calls keep working */
    mov %rsp, kernel_saved_rsp(%rip)
    mov %rsp, tss_rsp0(%rip)
    mov user_stack_ptr(%rip), %rax
    sub $8, %rax
    movq $user_return, (%rax)    /* fn's ret lands in user_return */
    mov %rdx, %rcx
    and $0x200, %rcx             /* IF as asked */
    or $0x3002, %rcx             /* IOPL 3, reserved bit 1 */
    pushq $(USER_DS | 3)
    push %rax
    push %rcx
    pushq $(USER_CS | 3)
    push %rdi
    mov %rsi, %rdi
    xor %eax, %eax
    xor %ebx, %ebx
    xor %ebp, %ebp
    iretq

user_return:                     /* CPL3 */
    mov %rax, %rdi
    mov $SYS_EXIT_USER, %eax
/* The way back to CPL0 is a deliberate #UD at this address, which isr_dispatch recognises.
 * Not an "int $0x80" gate or SYSCALL: kvm-pvm turns int $0x80 from CPL3 into #UD and runs
 * SYSCALL through its paravirtual path (the handler stays at CPL3). Exceptions are delivered
 * faithfully everywhere. */
    .globl user_exit_trap
user_exit_trap:
    ud2

/* Called by isr_dispatch for the #UD at user_exit_trap (CPL0): abandon the user context and
 * return `value` from the matching run_user. */
    .globl resume_kernel
resume_kernel:
    mov kernel_saved_rsp(%rip), %rsp
    pop %rax
    mov %rax, kernel_saved_rsp(%rip)
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    mov %rdi, %rax
    ret

/* Interrupt stubs: 16 bytes each, stub for vector v at isr_stubs + 16 * v. Each pushes an error
 * code (0 where the CPU does not) and the vector, then joins isr_common. */
    .align 16
    .globl isr_stubs
isr_stubs:
    .set vec, 0
    .rept 256
    .align 16
    .if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
    .else
    pushq $0
    .endif
    pushq $vec
    jmp isr_common
    .set vec, vec + 1
    .endr

isr_common:
    push %rax
    push %rbx
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %rbp
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
    cld
    mov %rsp, %rdi
    call isr_dispatch
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rbp
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rbx
    pop %rax
    add $16, %rsp
    iretq

/* ---- data ---- */
    .data
    .align 16
    .globl gdt
gdt:
    .quad 0
    .quad 0x00af9a000000ffff     /* KERNEL_CS   64-bit code */
    .quad 0x00cf9a000000ffff     /* KERNEL_CS32 32-bit code */
    .quad 0x00cf92000000ffff     /* KERNEL_DS */
    .quad 0x00cff2000000ffff     /* USER_DS (DPL3) */
    .quad 0x00affa000000ffff     /* USER_CS (DPL3, 64-bit) */
    .globl gdt_tss
gdt_tss:
    .quad 0, 0                   /* TSS, filled by cpu_init() */
gdt_end:
    .globl gdt_desc
gdt_desc:
    .word gdt_end - gdt - 1
    .quad gdt                    /* lgdt in 32-bit mode reads only the low 4 bytes */

    .align 8
    .globl kernel_saved_rsp, user_stack_ptr, ap_stack_top
kernel_saved_rsp: .quad 0
user_stack_ptr: .quad user_stack_top
ap_stack_top: .quad 0

/* The 64-bit TSS (104 bytes). */
    .align 16
    .globl tss, tss_rsp0, tss_ist1
tss:
    .long 0
tss_rsp0: .quad boot_stack_top
    .quad 0, 0                   /* rsp1, rsp2 */
    .quad 0                      /* reserved */
tss_ist1: .quad df_stack_top
    .quad 0, 0, 0, 0, 0, 0       /* ist2..ist7 */
    .quad 0                      /* reserved */
    .word 0
    .word io_bitmap - tss        /* I/O permission bitmap: every port allowed at CPL3 */
io_bitmap:
    .fill 8192, 1, 0             /* IOPL 3 alone is not enough: kvm-pvm ignores IOPL at CPL3 */
    .byte 0xff                   /* the CPU reads one byte past the last port */
    .globl tss_end
tss_end:

/* Page tables: identity map of [0, 4 GiB) with 2 MiB pages, present, writable and user-accessible
 * (the tests run at CPL3 and touch everything). The top GiB (MMIO: testdev, IOAPIC, LAPIC) is
 * uncached. Built by the assembler so that the 32-bit entries need no code to fill them. */
    .align 4096
    .globl pml4
pml4:
    .quad pdpt + 0x7
    .fill 511, 8, 0
pdpt:
    .quad pd + 0x0000 + 0x7
    .quad pd + 0x1000 + 0x7
    .quad pd + 0x2000 + 0x7
    .quad pd + 0x3000 + 0x7
    .fill 508, 8, 0
pd:
    .set addr, 0
    .rept 1536
    .quad addr + 0x87            /* P | RW | US | PS */
    .set addr, addr + 0x200000
    .endr
    .rept 512
    .quad addr + 0x9f            /* P | RW | US | PWT | PCD | PS */
    .set addr, addr + 0x200000
    .endr

/* PVH: XEN_ELFNOTE_PHYS32_ENTRY (type 18) names the 32-bit entry. An empty note follows so that
 * loaders which read the entry as 8 bytes still see the right value. */
    .section .note.Xen, "a", @note
    .align 4
    .long 4, 4, 18
    .asciz "Xen"
    .long pvh_start32
    .long 0, 0, 0

/* Stacks are not zeroed (not in .bss): zeroing them at CPL0 would only cost time. */
    .section .stack, "aw", @nobits
    .align 4096
    .space KERNEL_STACK_SIZE
    .globl boot_stack_top
boot_stack_top:
    .space KERNEL_STACK_SIZE
    .globl user_stack_top
user_stack_top:
    .space 4096
df_stack_top:
    .globl ap_stacks
ap_stacks:
    .space AP_STACK_SIZE * MAX_CPUS
    .globl ap_stacks_end
ap_stacks_end:
