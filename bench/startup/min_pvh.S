/* The smallest PVH guest: the 32-bit entry writes 0x10 to isa-debug-exit (port 0x501), so the
 * VMM exits with status 33 as soon as the vCPU runs its first instructions. */
    .text
    .code32
    .globl pvh_entry
pvh_entry:
    mov $0x10, %eax
    mov $0x501, %dx
    outl %eax, %dx
1:  cli
    hlt
    jmp 1b

    .section .note.Xen, "a", @note
    .align 4
    .long 4, 4, 18               /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .long pvh_entry
    .long 0, 0, 0                /* empty note: loaders reading 8 bytes of entry still see 0 */
