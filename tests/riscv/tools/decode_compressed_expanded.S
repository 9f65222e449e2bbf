# The 32-bit equivalent of each line of decode_compressed.S, written from the RVC spec's
# expansion table (same order).
.option norvc
addi a0, sp, 1020
fld fa1, 248(a2)
lw a3, 124(a4)
ld a5, 248(s0)
fsd fa1, 8(a2)
sw a3, 64(a4)
sd a5, 128(s1)
addi zero, zero, 0
addi a0, a0, -32
addiw a1, a1, 31
addi a2, zero, -1
addi sp, sp, -512
lui a3, 0xfffe0
lui t0, 1
srli s0, s0, 63
srai s1, s1, 1
andi a0, a0, -1
sub a0, a0, a1
xor a2, a2, a3
or a4, a4, a5
and s0, s0, s1
subw a0, a0, a1
addw a2, a2, a3
jal zero, .-2048
beq a0, zero, .+254
bne a1, zero, .-256
slli t1, t1, 12
fld ft0, 504(sp)
lw t2, 252(sp)
ld t3, 504(sp)
jalr zero, 0(ra)
add a0, zero, t6
ebreak
jalr ra, 0(t0)
add s2, s2, s3
fsd ft1, 504(sp)
sw t4, 252(sp)
sd t5, 504(sp)
