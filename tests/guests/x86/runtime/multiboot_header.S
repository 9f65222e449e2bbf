/* Multiboot v1 header (linked only into the .multiboot build, at image offset 0x100). Flag 16
 * (the "a.out kludge") gives the load addresses, so loaders need not parse the ELF (a flat
 * binary, and QEMU refuses 64-bit multiboot ELFs). */
#define MB_MAGIC 0x1badb002
#define MB_FLAGS ((1 << 1) | (1 << 16)) /* memory info, load addresses in header */

    .section .multiboot, "a"
    .align 4
    .globl multiboot_header
multiboot_header:
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)
    .long multiboot_header       /* header_addr */
    .long _start_image           /* load_addr */
    .long _edata                 /* load_end_addr */
    .long _end                   /* bss_end_addr */
    .long mb_start32             /* entry_addr */
