# A bare-metal test of what full-system translation must get right (run with --bios none, under
# the translator and the interpreter alike). The first failing step ends the VM through the
# SiFive test finisher with its number as exit status; success writes PASS (status 0).
#   1  self-modifying code: a function rewritten in place runs its new instructions
#   2  MMIO from translated code: a PLIC priority register reads back what was written
#   3  mstatus.FS = Off: an FP instruction is an illegal-instruction trap; FS on again works
#   4  S mode, Sv39: code at one virtual page, remapped to another physical page after
#      sfence.vma, runs the new page's code
#   5  atomics through a mapping: amoadd.w, amoswap.d, lr/sc, seen through the identity map
#   6  an instruction crossing a page boundary runs; with the second page unmapped it raises an
#      instruction page fault with tval = the second page and epc = the instruction
#   7  a loop of 200000 iterations (chained blocks) computes the right sum
#   8  a store to a page through a read-only mapping faults precisely: the registers written
#      before it in the same block are visible to the handler, the store did nothing
#   9  hot code rewritten (run right after step 1): 200 rounds each write `li a0, round` over
#      the function and call it 40 times, enough for it to be translated (in the background
#      too) while the next round's store is near; every call must return its round's value

        .option nopic
        .section .text.start
        .globl _start
_start:
        csrr    t0, mhartid
        bnez    t0, park                # other harts sleep: the test runs on hart 0
        la      sp, stack_top
        la      t0, m_trap
        csrw    mtvec, t0
        li      t0, -1
        csrw    pmpaddr0, t0
        li      t0, 0x1f
        csrw    pmpcfg0, t0

        # 1: self-modifying code.
        li      s1, 1
        la      s2, page_p1
        li      t0, 0x00100513          # li a0, 1
        sw      t0, 0(s2)
        li      t0, 0x00008067          # ret
        sw      t0, 4(s2)
        fence.i
        jalr    s2
        li      t1, 1
        bne     a0, t1, fail
        li      t0, 0x00200513          # li a0, 2
        sw      t0, 0(s2)
        fence.i
        jalr    s2
        li      t1, 2
        bne     a0, t1, fail

        # 9: hot code rewritten, round after round (s3 = round, s5 = the sum of 40 calls).
        li      s1, 9
        li      s3, 1
9:      slli    t0, s3, 20              # li a0, round (addi a0, zero, round)
        li      t1, 0x00000513
        or      t0, t0, t1
        sw      t0, 0(s2)
        fence.i
        li      s4, 40
        li      s5, 0
8:      jalr    s2
        add     s5, s5, a0
        addi    s4, s4, -1
        bnez    s4, 8b
        li      t1, 40
        mul     t1, t1, s3
        bne     s5, t1, fail
        addi    s3, s3, 1
        li      t1, 200
        ble     s3, t1, 9b

        # 2: MMIO: the PLIC's priority register of source 3 (the UART may be absent).
        li      s1, 2
        li      t0, 0x0c000000
        li      t1, 5
        sw      t1, 12(t0)
        lw      t2, 12(t0)
        bne     t1, t2, fail
        sw      zero, 12(t0)

        # 3: FS off: fadd.d traps as illegal; back on, it works.
        li      s1, 3
        li      t0, 0x6000
        csrc    mstatus, t0
        la      t0, after_fp
        la      t1, resume
        sd      t0, 0(t1)
        fadd.d  f0, f0, f0
        j       fail
after_fp:
        la      t0, trap_cause
        ld      t1, 0(t0)
        li      t2, 2
        bne     t1, t2, fail
        li      t0, 0x2000
        csrs    mstatus, t0
        li      t0, 3
        fcvt.d.l f1, t0
        fadd.d  f1, f1, f1
        fcvt.l.d t1, f1
        li      t2, 6
        bne     t1, t2, fail

        # Code for step 4 (page_p2) and step 6 (page_x / page_y), written before it runs.
        la      t3, page_p2
        li      t0, 0x00200513          # li a0, 2
        sw      t0, 0(t3)
        li      t0, 0x00008067          # ret
        sw      t0, 4(t3)
        li      t0, 0x00100513          # page_p1 back to li a0, 1
        sw      t0, 0(s2)
        la      t3, page_x
        li      t0, 0x0513              # addi a0, a0, 5 = 0x00550513, split over two pages
        li      t4, 4094
        add     t4, t3, t4
        sh      t0, 0(t4)
        la      t3, page_y
        li      t0, 0x0055
        sh      t0, 0(t3)
        li      t0, 0x8067              # ret = 0x00008067, 2-byte aligned at page_y + 2
        sh      t0, 2(t3)
        li      t0, 0x0000
        sh      t0, 4(t3)
        fence.i

        # Page tables: root[2] = identity gigapage at 0x80000000 (RWX, A, D); root[1] -> l1;
        # l1[0] -> l0; l0[0] = V -> page_p1, l0[1] = V+0x1000 -> page_d (RW),
        # l0[2] = V+0x2000 -> page_x, l0[3] = V+0x3000 -> page_y, l0[4] = V+0x4000 -> page_d
        # read-only. V = 0x40000000.
        la      t0, pt_root
        li      t1, (0x80000 << 10) | 0xcf
        sd      t1, 16(t0)
        la      t2, pt_l1
        srli    t2, t2, 12
        slli    t2, t2, 10
        ori     t2, t2, 1
        sd      t2, 8(t0)
        la      t0, pt_l1
        la      t2, pt_l0
        srli    t2, t2, 12
        slli    t2, t2, 10
        ori     t2, t2, 1
        sd      t2, 0(t0)
        la      t0, pt_l0
        la      a0, page_p1
        li      a1, 0x4b                # V R X A
        call    make_pte
        sd      a0, 0(t0)
        la      a0, page_d
        li      a1, 0xc7                # V R W A D
        call    make_pte
        sd      a0, 8(t0)
        la      a0, page_x
        li      a1, 0x4b
        call    make_pte
        sd      a0, 16(t0)
        la      a0, page_y
        li      a1, 0x4b
        call    make_pte
        sd      a0, 24(t0)
        la      a0, page_d
        li      a1, 0x43                # V R A
        call    make_pte
        sd      a0, 32(t0)
        la      t0, pt_root
        srli    t0, t0, 12
        li      t1, 8 << 60
        or      t0, t0, t1
        csrw    satp, t0
        sfence.vma
        # To S mode at s_code (identity-mapped).
        li      t0, 3 << 11
        csrc    mstatus, t0
        li      t0, 1 << 11
        csrs    mstatus, t0
        la      t0, s_code
        csrw    mepc, t0
        mret

make_pte:                               # a0 = page address, a1 = flags -> a0 = PTE
        srli    a0, a0, 12
        slli    a0, a0, 10
        or      a0, a0, a1
        ret

        # ---- S mode ----
s_code:
        # 4: remapped code.
        li      s1, 4
        li      s3, 0x40000000
        jalr    s3
        li      t1, 1
        bne     a0, t1, fail_s
        la      a0, page_p2
        li      a1, 0x4b
        call    make_pte
        la      t0, pt_l0
        sd      a0, 0(t0)
        sfence.vma
        jalr    s3
        li      t1, 2
        bne     a0, t1, fail_s

        # 5: atomics through V+0x1000 (page_d).
        li      s1, 5
        li      s4, 0x40001000
        la      s5, page_d
        li      t0, 40
        sw      t0, 0(s5)
        li      t1, 2
        amoadd.w t2, t1, (s4)
        li      t3, 40
        bne     t2, t3, fail_s
        lw      t2, 0(s5)
        li      t3, 42
        bne     t2, t3, fail_s
        li      t1, 0x123456789
        addi    t4, s4, 8
        amoswap.d t2, t1, (t4)
        bnez    t2, fail_s
        ld      t2, 8(s5)
        bne     t1, t2, fail_s
        addi    t4, s4, 16
1:      lr.d    t2, (t4)
        addi    t2, t2, 7
        sc.d    t3, t2, (t4)
        bnez    t3, 1b
        ld      t2, 16(s5)
        li      t3, 7
        bne     t2, t3, fail_s

        # 6: an instruction across V+0x2ffe / V+0x3000.
        li      s1, 6
        li      a0, 1
        li      t0, 0x40002ffe
        jalr    t0
        li      t1, 6
        bne     a0, t1, fail_s
        la      t0, pt_l0
        sd      zero, 24(t0)            # unmap V+0x3000
        sfence.vma
        la      t0, after_cross
        la      t1, resume
        sd      t0, 0(t1)
        li      t0, 0x40002ffe
        jalr    t0
        j       fail_s
after_cross:
        la      t0, trap_cause
        ld      t1, 0(t0)
        li      t2, 12
        bne     t1, t2, fail_s
        ld      t1, 8(t0)               # tval
        li      t2, 0x40003000
        bne     t1, t2, fail_s
        ld      t1, 16(t0)              # epc
        li      t2, 0x40002ffe
        bne     t1, t2, fail_s

        # 7: a hot loop.
        li      s1, 7
        li      t0, 0
        li      t1, 200000
        li      t2, 0
2:      addi    t0, t0, 1
        add     t2, t2, t0
        bne     t0, t1, 2b
        li      t3, 20000100000
        bne     t2, t3, fail_s

        # 8: a precise store fault through V+0x4000 (read-only page_d).
        li      s1, 8
        la      t0, after_ro
        la      t1, resume
        sd      t0, 0(t1)
        li      t5, 0x40004000
        ld      t4, 0(t5)               # readable: 42 in the low word
        li      a2, 77
        li      a3, 99
        sd      a3, 0(t5)
        j       fail_s
after_ro:
        la      t0, trap_cause
        ld      t1, 0(t0)
        li      t2, 15
        bne     t1, t2, fail_s
        ld      t1, 8(t0)
        li      t2, 0x40004000
        bne     t1, t2, fail_s
        la      t0, trap_a2
        ld      t1, 0(t0)
        li      t2, 77
        bne     t1, t2, fail_s
        lw      t1, 0(s5)
        li      t2, 42
        bne     t1, t2, fail_s
        ecall                           # done: back to M

fail_s:
        ecall                           # s1 holds the step; M sees s1 != 0 with cause 9
        j       fail_s

        # ---- M mode ----
        .align  2                       # mtvec's low bits are its mode
m_trap:
        csrr    t5, mcause
        li      t6, 9
        beq     t5, t6, m_ecall_s
        la      t6, trap_cause
        sd      t5, 0(t6)
        csrr    t5, mtval
        sd      t5, 8(t6)
        csrr    t5, mepc
        sd      t5, 16(t6)
        sd      a2, 24(t6)              # trap_a2
        la      t6, resume
        ld      t5, 0(t6)
        csrw    mepc, t5
        mret
m_ecall_s:
        # s_code finished (all steps passed) or fail_s (its step in s1, the instruction
        # before the ecall being a failed branch). The ecall address tells which.
        csrw    satp, zero
        csrr    t5, mepc
        la      t6, fail_s
        beq     t5, t6, fail
        j       pass

park:
        wfi
        j       park

pass:
        li      t0, 0x100000
        li      t1, 0x5555
        sw      t1, 0(t0)
1:      j       1b
fail:
        li      t0, 0x100000
        slli    t1, s1, 16
        li      t2, 0x3333
        or      t1, t1, t2
        sw      t1, 0(t0)
1:      j       1b

        .data
        .align  3
resume:         .dword 0
trap_cause:     .dword 0
trap_tval:      .dword 0
trap_epc:       .dword 0
trap_a2:        .dword 0

        .bss
        .align  12
pt_root:        .space 4096
pt_l1:          .space 4096
pt_l0:          .space 4096
page_p1:        .space 4096
page_p2:        .space 4096
page_d:         .space 4096
page_x:         .space 4096
page_y:         .space 4096
stack:          .space 4096
stack_top:
