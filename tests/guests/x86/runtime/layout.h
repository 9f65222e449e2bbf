/* Constants shared by the guests' assembly and C: selectors, boot kinds, exit codes, addresses. */
#pragma once

/* GDT selectors. 0x10/0x18 match the Linux boot protocol's __BOOT_CS/__BOOT_DS. */
#define KERNEL_CS 0x08   /* 64-bit code, DPL0 */
#define KERNEL_CS32 0x10 /* 32-bit flat code, DPL0 (mode switches only) */
#define KERNEL_DS 0x18   /* flat data, DPL0 */
#define USER_DS 0x20     /* flat data, DPL3 */
#define USER_CS 0x28     /* 64-bit code, DPL3 */
#define TSS_SEL 0x30     /* 16-byte TSS descriptor */
#define GDT_ENTRIES 8

/* How the guest was entered (first argument of kernel_start). */
#define BOOT_BZIMAGE 1   /* info = boot_params (64-bit or 32-bit Linux boot protocol) */
#define BOOT_PVH 2       /* info = hvm_start_info */
#define BOOT_MULTIBOOT 3 /* info = multiboot v1 information structure */

/* isa-debug-exit: writing v makes the VMM exit with status (v << 1) | 1. */
#define DEBUG_EXIT_PORT 0x501
#define EXIT_OK 0x10             /* status 33 */
#define EXIT_CHECK_FAILED 0x11   /* status 35: a CHECK() in the guest failed */
#define EXIT_PANIC 0x12          /* status 37: the runtime gave up (bad boot info, ...) */
#define EXIT_EXCEPTION 0x20      /* + vector: status 65 + 2 * vector */
#define EXIT_UNEXPECTED_IRQ 0x40 /* status 129: an interrupt nobody handles */

#define SYS_EXIT_USER 0x5ca1ab1e /* rax at user_exit_trap; rdi = value run_user() returns */

/* Real-mode AP trampoline (SIPI vector 0x08). */
#define TRAMPOLINE_BASE 0x8000

#define MAX_CPUS 64
#define KERNEL_STACK_SIZE 16384
#define AP_STACK_SIZE 4096
