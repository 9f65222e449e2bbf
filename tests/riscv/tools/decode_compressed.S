.option rvc
c.addi4spn a0, sp, 1020
c.fld fa1, 248(a2)
c.lw a3, 124(a4)
c.ld a5, 248(s0)
c.fsd fa1, 8(a2)
c.sw a3, 64(a4)
c.sd a5, 128(s1)
c.nop
c.addi a0, -32
c.addiw a1, 31
c.li a2, -1
c.addi16sp sp, -512
c.lui a3, 0xfffe0
c.lui t0, 1
c.srli s0, 63
c.srai s1, 1
c.andi a0, -1
c.sub a0, a1
c.xor a2, a3
c.or a4, a5
c.and s0, s1
c.subw a0, a1
c.addw a2, a3
c.j .-2048
c.beqz a0, .+254
c.bnez a1, .-256
c.slli t1, 12
c.fldsp ft0, 504(sp)
c.lwsp t2, 252(sp)
c.ldsp t3, 504(sp)
c.jr ra
c.mv a0, t6
c.ebreak
c.jalr t0
c.add s2, s3
c.fsdsp ft1, 504(sp)
c.swsp t4, 252(sp)
c.sdsp t5, 504(sp)
