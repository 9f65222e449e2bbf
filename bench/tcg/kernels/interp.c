// A bytecode interpreter (a small stack machine with a switch dispatch) running a program that
// computes a pseudo-random walk with nested loops: the branchy, indirect-jump-heavy code of
// language runtimes and emulators.
#include "bench_common.h"

enum Opcode {
  PUSH, LOAD, STORE, ADD, SUB, MUL, XOR, SHR, AND, DUP, DROP, JNZ, JMP, LT, HALT, INC, DEC
};

typedef struct {
  uint8_t op;
  int32_t arg;
} Insn;

static int64_t run(const Insn* code, int64_t* vars) {
  int64_t stack[64];
  int sp = 0;
  int pc = 0;
  for (;;) {
    const Insn in = code[pc++];
    switch (in.op) {
      case PUSH: stack[sp++] = in.arg; break;
      case LOAD: stack[sp++] = vars[in.arg]; break;
      case STORE: vars[in.arg] = stack[--sp]; break;
      case ADD: --sp; stack[sp - 1] += stack[sp]; break;
      case SUB: --sp; stack[sp - 1] -= stack[sp]; break;
      case MUL: --sp; stack[sp - 1] *= stack[sp]; break;
      case XOR: --sp; stack[sp - 1] ^= stack[sp]; break;
      case SHR: --sp; stack[sp - 1] = (int64_t)((uint64_t)stack[sp - 1] >> stack[sp]); break;
      case AND: --sp; stack[sp - 1] &= stack[sp]; break;
      case DUP: stack[sp] = stack[sp - 1]; ++sp; break;
      case DROP: --sp; break;
      case JNZ: if (stack[--sp]) pc = in.arg; break;
      case JMP: pc = in.arg; break;
      case LT: --sp; stack[sp - 1] = stack[sp - 1] < stack[sp]; break;
      case INC: ++vars[in.arg]; break;
      case DEC: --vars[in.arg]; break;
      case HALT: return vars[0];
      default: return -1;
    }
  }
}

int main(int argc, char** argv) {
  const int scale = bench_scale(argc, argv);
  // vars: 0 acc, 1 i (outer counter), 2 j (inner counter), 3 x (state)
  const Insn prog[] = {
      /* 0 */ {PUSH, 0}, {STORE, 0},
      /* 2 outer: */ {PUSH, 200}, {STORE, 2},
      /* 4 inner: */ {LOAD, 3}, {PUSH, 6364136}, {MUL, 0}, {PUSH, 1442695}, {ADD, 0},
      /* 9 */ {DUP, 0}, {STORE, 3},
      /* 11 */ {PUSH, 17}, {SHR, 0}, {PUSH, 1023}, {AND, 0},
      /* 15 */ {LOAD, 0}, {XOR, 0}, {LOAD, 2}, {ADD, 0}, {STORE, 0},
      /* 20 */ {DEC, 2}, {LOAD, 2}, {JNZ, 4},
      /* 23 */ {DEC, 1}, {LOAD, 1}, {JNZ, 2},
      /* 26 */ {HALT, 0}};
  uint64_t sum = 0;
  for (int r = 0; r < scale; ++r) {
    int64_t vars[4] = {0, 30000, 0, r + 1};
    sum = sum * 7 + (uint64_t)run(prog, vars) + (uint64_t)vars[3];
  }
  bench_result("interp", sum);
  return 0;
}
