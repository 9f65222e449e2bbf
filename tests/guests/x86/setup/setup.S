/* The real-mode part of the test guests' bzImage: the Linux boot protocol 2.15 setup header and a
 * small setup program for loaders that enter in real mode (QEMU's -kernel, GRUB's "linux16").
 * Loaders that use the 32-bit or 64-bit protocol (Tandem) only read the header.
 *
 * The setup program turns its own memory into boot_params: the header already sits at 0x1f1, the
 * code starts at 0x1000, so [0, 0x1000) can be zeroed and filled (e820 table) in place. It then
 * enters 32-bit protected mode with CS 0x10 / DS 0x18 and jumps to code32_start with esi =
 * boot_params, as the 32-bit boot protocol asks. mkbzimage patches setup_sects, syssize and
 * init_size. */

#define SMAP 0x534d4150

    .code16
    .section .setup, "ax"
    .globl _start
_start:
    /* Not a boot sector. */
    cli
1:  hlt
    jmp 1b

    .org 0x1f1
hdr:
setup_sects:        .byte 0                 /* patched */
root_flags:         .word 0
syssize:            .long 0                 /* patched */
ram_size:           .word 0
vid_mode:           .word 0xffff
root_dev:           .word 0
boot_flag:          .word 0xaa55
    /* 0x200 */
jump:               .byte 0xeb, start_of_header_end - 1f
1:
header:             .ascii "HdrS"
version:            .word 0x020f            /* 2.15 */
realmode_swtch:     .long 0
start_sys_seg:      .word 0x1000
kernel_version:     .word 0
type_of_loader:     .byte 0
loadflags:          .byte 0x01              /* LOADED_HIGH */
setup_move_size:    .word 0x8000
code32_start:       .long 0x100000
ramdisk_image:      .long 0
ramdisk_size:       .long 0
bootsect_kludge:    .long 0
heap_end_ptr:       .word 0
ext_loader_ver:     .byte 0
ext_loader_type:    .byte 0
cmd_line_ptr:       .long 0
initrd_addr_max:    .long 0x7fffffff
kernel_alignment:   .long 0x200000
relocatable_kernel: .byte 0                 /* must be loaded at 0x100000 */
min_alignment:      .byte 21
xloadflags:         .word 0x0001            /* XLF_KERNEL_64: entry at +0x200 */
cmdline_size:       .long 2047
hardware_subarch:   .long 0
hardware_subarch_data: .quad 0
payload_offset:     .long 0
payload_length:     .long 0
setup_data:         .quad 0
pref_address:       .quad 0x100000
init_size:          .long 0                 /* patched */
handover_offset:    .long 0
kernel_info_offset: .long 0x80              /* head.S: kernel_info at image + 0x80 */
    /* 0x26c: end of the setup header; boot_params padding follows up to 0x290. */
start_of_header_end:
    jmp start_of_setup

    .org 0x1000
start_of_setup:
    /* Loader: CS = setup segment + 0x20, DS = ES = SS = setup segment. */
    cli
    cld
    mov %ds, %ax
    mov %ax, %es
    push %ax
    push $2f
    lretw
2:
    /* boot_params = this segment: clear everything but the header. */
    xor %eax, %eax
    xor %di, %di
    mov $0x1f1, %cx
    rep stosb
    mov $0x26c, %di
    mov $(0x1000 - 0x26c), %cx
    rep stosb

    /* e820 table at 0x2d0, count at 0x1e8. */
    xor %ebx, %ebx
    mov $0x2d0, %di
    xor %si, %si
3:  mov $0xe820, %eax
    mov $SMAP, %edx
    mov $20, %ecx
    int $0x15
    jc 4f
    cmp $SMAP, %eax
    jne 4f
    inc %si
    add $20, %di
    test %ebx, %ebx
    jz 4f
    cmp $128, %si
    jb 3b
4:  mov %si, %ax
    movb %al, 0x1e8

    /* Fast A20. */
    inb $0x92, %al
    or $2, %al
    and $0xfe, %al
    outb %al, $0x92

    /* ebx = linear address of this segment = boot_params. */
    xor %ebx, %ebx
    mov %ds, %bx
    shl $4, %ebx
    lea setup_gdt(%ebx), %eax
    mov %eax, setup_gdt_desc + 2
    lea far_ptr(%ebx), %ecx
    mov code32_start, %eax
    mov %eax, far_ptr
    movw $0x10, far_ptr + 4
    lgdtl setup_gdt_desc
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    mov $0x18, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %ax, %fs
    mov %ax, %gs
    mov %ebx, %esi
    ljmpl *(%ecx)

    .align 8
setup_gdt:
    .quad 0
    .quad 0
    .quad 0x00cf9a000000ffff     /* 0x10: 32-bit flat code */
    .quad 0x00cf92000000ffff     /* 0x18: flat data */
setup_gdt_end:
setup_gdt_desc:
    .word setup_gdt_end - setup_gdt - 1
    .long 0                      /* linear base, patched above */
far_ptr:
    .long 0
    .word 0
    .align 512
