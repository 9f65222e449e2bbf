# A minimal S-mode payload in the RISC-V Linux Image format, for booting under OpenSBI:
# it prints a line through the SBI debug console extension and powers off through SBI SRST.
        .option nopic
        .section .text.start
        .globl _start
_start:
        j       entry                   # code0/code1
        .balign 8
        .dword  0x200000                # text_offset
        .dword  image_end - _start      # image_size
        .dword  0                       # flags
        .word   2                       # version
        .word   0
        .dword  0
        .ascii  "RISCV\0\0\0"           # magic (deprecated)
        .ascii  "RSC\x05"               # magic2
        .word   0
entry:
        li      a7, 0x4442434e          # DBCN
        li      a6, 0                   # console_write
        lla     a1, msg
        lla     a0, msg_end
        sub     a0, a0, a1              # num_bytes
        li      a2, 0
        ecall
        li      a7, 0x53525354          # SRST
        li      a6, 0
        li      a0, 0                   # shutdown
        li      a1, 0                   # no reason
        ecall
1:      wfi
        j       1b
msg:    .ascii  "tandem: hello from S-mode\n"
msg_end:
        .balign 8
image_end:
