# A bare-metal test of the privileged architecture, run with --bios none in M mode. Each step
# checks its result; the first failing step ends the VM through the SiFive test finisher with
# FAIL and the step number as exit status, and success writes PASS (exit status 0).
#   1  illegal instruction trap (write to the read-only cycle CSR), mtval = the instruction
#   2  an unknown CSR traps as illegal
#   3  misaligned load across a page boundary is emulated
#   4  S mode under Sv39: loads through an alias mapping; A and D set by the hardware
#   5  store to a read-only page: store page fault delegated to S with stval = the address
#   6  the A/D bits: the written gigapage has A|D, the read-only alias A only
#   7  ecall from S reaches M with cause 9
#   8  a machine timer interrupt from the CLINT wakes WFI and is taken with cause MTI
#   9  sret/mret restore: back in M after the interrupt with MIE restored

        .option nopic
        .option norvc                   # handlers step over faulting instructions by 4
        .section .text.start
        .globl _start
_start:
        la      sp, stack_top
        la      t0, m_trap
        csrw    mtvec, t0

        # 1: illegal instruction.
        li      s1, 1
        .word   0xc0001073              # csrw cycle, zero: cycle is read-only
        la      t0, illegal_count
        ld      t1, 0(t0)
        li      t2, 1
        bne     t1, t2, fail
        ld      t1, 8(t0)               # illegal_tval
        li      t2, 0xc0001073
        bne     t1, t2, fail

        # 2: unknown CSR.
        li      s1, 2
        csrr    a0, 0x7c0
        la      t0, illegal_count
        ld      t1, 0(t0)
        li      t2, 2
        bne     t1, t2, fail

        # 3: misaligned load across a page boundary.
        li      s1, 3
        la      t0, page_a
        li      t1, 0x1122334455667788
        li      t5, 4092
        add     t5, t0, t5
        sd      t1, 0(t5)               # itself misaligned and crossing
        ld      t2, 0(t5)
        bne     t1, t2, fail
        lw      t3, 4(t5)
        li      t4, 0x11223344
        bne     t3, t4, fail

        # PMP: everything for S/U (NAPOT over the whole space).
        li      t0, -1
        csrw    pmpaddr0, t0
        li      t0, 0x1f
        csrw    pmpcfg0, t0

        # Sv39 root: VA 0x80000000 -> PA 0x80000000 (RWX, no A/D), VA 0x40000000 -> the same
        # PA read-only (no A/D).
        la      t0, pt_root
        li      t1, (0x80000000 >> 12) << 10
        ori     t2, t1, 0x0f            # V R W X
        sd      t2, 16(t0)
        ori     t2, t1, 0x03            # V R
        sd      t2, 8(t0)
        srli    t1, t0, 12
        li      t2, 8 << 60
        or      t1, t1, t2
        csrw    satp, t1
        sfence.vma

        li      t0, 1 << 15             # delegate store page faults to S
        csrw    medeleg, t0
        la      t0, s_trap
        csrw    stvec, t0
        li      t0, 3 << 11
        csrc    mstatus, t0
        li      t0, 1 << 11             # MPP = S
        csrs    mstatus, t0
        la      t0, s_entry
        csrw    mepc, t0
        li      s1, 4
        mret

s_entry:
        # 4: store through the identity map (sets A and D), read back through the alias.
        la      t0, data_var
        li      t1, 42
        sd      t1, 0(t0)
        li      t2, 0x40000000
        sub     t3, t0, t2              # alias = data_var - 0x40000000
        ld      t4, 0(t3)
        la      t5, s_loaded
        sd      t4, 0(t5)
        # 5: the alias is read-only.
        sd      t1, 0(t3)
        la      t5, s_alias
        sd      t3, 0(t5)
        ecall                           # 7
        j       fail                    # not reached

s_trap:
        csrr    t5, scause
        la      t6, s_cause
        sd      t5, 0(t6)
        csrr    t5, stval
        sd      t5, 8(t6)
        csrr    t5, sepc
        addi    t5, t5, 4
        csrw    sepc, t5
        sret

after_s:
        li      s1, 4
        la      t0, s_loaded
        ld      t1, 0(t0)
        li      t2, 42
        bne     t1, t2, fail
        li      s1, 5
        la      t0, s_cause
        ld      t1, 0(t0)
        li      t2, 15
        bne     t1, t2, fail
        ld      t1, 8(t0)
        la      t2, s_alias
        ld      t2, 0(t2)
        bne     t1, t2, fail
        li      s1, 6
        la      t0, pt_root
        ld      t1, 16(t0)
        andi    t1, t1, 0xc0
        li      t2, 0xc0
        bne     t1, t2, fail
        ld      t1, 8(t0)
        andi    t1, t1, 0xc0
        li      t2, 0x40
        bne     t1, t2, fail

        # 8: timer interrupt.
        li      s1, 8
        li      t0, 0x200bff8
        ld      t1, 0(t0)
        addi    t1, t1, 1000            # 100 us at 10 MHz
        li      t0, 0x2004000
        sd      t1, 0(t0)
        li      t0, 0x80
        csrw    mie, t0
        # Wait with mstatus.MIE off, so the interrupt cannot be taken between the check and
        # the WFI (then nothing would end the WFI: a host that preempts the VMM for more than
        # 100 us made this step hang); WFI ends on MTIP pending in mie whatever MIE says.
        csrci   mstatus, 8
1:      la      t0, timer_hit
        ld      t1, 0(t0)
        bnez    t1, 2f
        wfi
        csrsi   mstatus, 8              # a pending MTI is taken here
        csrr    s2, mstatus             # after the handler's mret: MIE on again
        csrci   mstatus, 8
        j       1b
        # 9: MIE was restored by mret.
2:      li      s1, 9
        andi    t0, s2, 8
        beqz    t0, fail

        li      t0, 0x100000
        li      t1, 0x5555
        sw      t1, 0(t0)
        j       .

fail:
        slli    t1, s1, 16
        li      t2, 0x3333
        or      t1, t1, t2
        li      t0, 0x100000
        sw      t1, 0(t0)
        j       .

        .align  4
m_trap:
        csrr    t5, mcause
        bltz    t5, m_irq
        li      t6, 2
        beq     t5, t6, m_illegal
        li      t6, 9
        beq     t5, t6, m_ecall_s
        li      s1, 100
        j       fail
m_illegal:
        la      t6, illegal_count
        ld      t5, 0(t6)
        addi    t5, t5, 1
        sd      t5, 0(t6)
        csrr    t5, mtval
        sd      t5, 8(t6)
        csrr    t5, mepc
        addi    t5, t5, 4
        csrw    mepc, t5
        mret
m_ecall_s:
        li      s1, 7
        csrr    t5, mstatus             # MPP must say S
        srli    t5, t5, 11
        andi    t5, t5, 3
        li      t6, 1
        bne     t5, t6, fail
        csrw    satp, zero
        j       after_s
m_irq:
        slli    t5, t5, 1
        srli    t5, t5, 1
        li      t6, 7
        li      s1, 101
        bne     t5, t6, fail
        li      t5, -1
        li      t6, 0x2004000
        sd      t5, 0(t6)               # mtimecmp = max: MTIP drops
        la      t6, timer_hit
        li      t5, 1
        sd      t5, 0(t6)
        mret

        .data
        .align  3
illegal_count:  .dword 0
illegal_tval:   .dword 0
s_cause:        .dword 0, 0
s_loaded:       .dword 0
s_alias:        .dword 0
timer_hit:      .dword 0
data_var:       .dword 0

        .bss
        .align  12
pt_root:        .space 4096
page_a:         .space 8192
stack:          .space 4096
stack_top:
