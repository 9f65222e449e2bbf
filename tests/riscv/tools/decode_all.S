.option norvc
lui a0, 0x12345
auipc t1, 0xfffff
jal ra, .+2048
jalr t0, -12(a1)
beq a0, a1, .-4096
bne s0, s1, .+16
blt a2, a3, .+4094
bge a4, a5, .-2
bltu t3, t4, .+8
bgeu t5, t6, .-8
lb a0, -2048(sp)
lh a1, 2047(gp)
lw a2, 4(tp)
ld a3, -8(t0)
lbu a4, 1(t1)
lhu a5, 2(t2)
lwu a6, 3(s0)
sb a7, -1(s1)
sh s2, 100(a0)
sw s3, -100(a1)
sd s4, 2040(a2)
addi s5, s6, -1
slti s7, s8, 7
sltiu s9, s10, 2047
xori s11, t3, -2048
ori t4, t5, 0x7ff
andi t6, zero, 1
slli a0, a1, 63
srli a0, a1, 33
srai a0, a1, 1
add a0, a1, a2
sub a0, a1, a2
sll a0, a1, a2
slt a0, a1, a2
sltu a0, a1, a2
xor a0, a1, a2
srl a0, a1, a2
sra a0, a1, a2
or a0, a1, a2
and a0, a1, a2
addiw a0, a1, -5
slliw a0, a1, 31
srliw a0, a1, 5
sraiw a0, a1, 17
addw a0, a1, a2
subw a0, a1, a2
sllw a0, a1, a2
srlw a0, a1, a2
sraw a0, a1, a2
fence rw, w
fence.i
ecall
ebreak
csrrw a0, fcsr, a1
csrrs a0, frm, a1
csrrc a0, fflags, a1
csrrwi a0, fcsr, 5
csrrsi a0, cycle, 0
csrrci a0, time, 31
csrrs a0, instret, zero
mul a0, a1, a2
mulh a0, a1, a2
mulhsu a0, a1, a2
mulhu a0, a1, a2
div a0, a1, a2
divu a0, a1, a2
rem a0, a1, a2
remu a0, a1, a2
mulw a0, a1, a2
divw a0, a1, a2
divuw a0, a1, a2
remw a0, a1, a2
remuw a0, a1, a2
lr.w a0, (a1)
sc.w a0, a2, (a1)
amoswap.w.aq a0, a2, (a1)
amoadd.w.rl a0, a2, (a1)
amoxor.w.aqrl a0, a2, (a1)
amoand.w a0, a2, (a1)
amoor.w a0, a2, (a1)
amomin.w a0, a2, (a1)
amomax.w a0, a2, (a1)
amominu.w a0, a2, (a1)
amomaxu.w a0, a2, (a1)
lr.d.aq a0, (a1)
sc.d.rl a0, a2, (a1)
amoswap.d a0, a2, (a1)
amoadd.d a0, a2, (a1)
amoxor.d a0, a2, (a1)
amoand.d a0, a2, (a1)
amoor.d a0, a2, (a1)
amomin.d a0, a2, (a1)
amomax.d a0, a2, (a1)
amominu.d a0, a2, (a1)
amomaxu.d a0, a2, (a1)
flw fa0, 8(a1)
fsw fa1, -8(a2)
fld fs0, 16(sp)
fsd fs11, -16(sp)
fmadd.s fa0, fa1, fa2, fa3
fmsub.s fa0, fa1, fa2, fa3, rtz
fnmsub.s fa0, fa1, fa2, fa3, rdn
fnmadd.s fa0, fa1, fa2, fa3, rup
fadd.s ft0, ft1, ft2, rmm
fsub.s ft0, ft1, ft2, rne
fmul.s ft0, ft1, ft2
fdiv.s ft0, ft1, ft2
fsqrt.s ft0, ft1
fsgnj.s ft0, ft1, ft2
fsgnjn.s ft0, ft1, ft2
fsgnjx.s ft0, ft1, ft2
fmin.s ft0, ft1, ft2
fmax.s ft0, ft1, ft2
fcvt.w.s a0, ft1, rtz
fcvt.wu.s a0, ft1
fcvt.l.s a0, ft1
fcvt.lu.s a0, ft1
fmv.x.w a0, ft1
feq.s a0, ft1, ft2
flt.s a0, ft1, ft2
fle.s a0, ft1, ft2
fclass.s a0, ft1
fcvt.s.w ft0, a1
fcvt.s.wu ft0, a1
fcvt.s.l ft0, a1
fcvt.s.lu ft0, a1
fmv.w.x ft0, a1
fmadd.d fa0, fa1, fa2, fa3
fmsub.d fa0, fa1, fa2, fa3
fnmsub.d fa0, fa1, fa2, fa3
fnmadd.d fa0, fa1, fa2, fa3
fadd.d ft0, ft1, ft2
fsub.d ft0, ft1, ft2
fmul.d ft0, ft1, ft2
fdiv.d ft0, ft1, ft2
fsqrt.d ft0, ft1
fsgnj.d ft0, ft1, ft2
fsgnjn.d ft0, ft1, ft2
fsgnjx.d ft0, ft1, ft2
fmin.d ft0, ft1, ft2
fmax.d ft0, ft1, ft2
fcvt.s.d ft0, ft1
fcvt.d.s ft0, ft1
feq.d a0, ft1, ft2
flt.d a0, ft1, ft2
fle.d a0, ft1, ft2
fclass.d a0, ft1
fcvt.w.d a0, ft1
fcvt.wu.d a0, ft1
fcvt.l.d a0, ft1
fcvt.lu.d a0, ft1
fmv.x.d a0, ft1
fcvt.d.w ft0, a1
fcvt.d.wu ft0, a1
fcvt.d.l ft0, a1
fcvt.d.lu ft0, a1
fmv.d.x ft0, a1
add.uw a0, a1, a2
sh1add a0, a1, a2
sh2add a0, a1, a2
sh3add a0, a1, a2
sh1add.uw a0, a1, a2
sh2add.uw a0, a1, a2
sh3add.uw a0, a1, a2
slli.uw a0, a1, 40
andn a0, a1, a2
orn a0, a1, a2
xnor a0, a1, a2
clz a0, a1
clzw a0, a1
ctz a0, a1
ctzw a0, a1
cpop a0, a1
cpopw a0, a1
max a0, a1, a2
maxu a0, a1, a2
min a0, a1, a2
minu a0, a1, a2
sext.b a0, a1
sext.h a0, a1
zext.h a0, a1
rol a0, a1, a2
rolw a0, a1, a2
ror a0, a1, a2
rori a0, a1, 60
roriw a0, a1, 20
rorw a0, a1, a2
orc.b a0, a1
rev8 a0, a1
