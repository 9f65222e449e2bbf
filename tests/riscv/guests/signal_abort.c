// Dies of SIGABRT (abort) or SIGSEGV (a null store) or SIGILL (an illegal instruction),
// selected by argv[1]; the host process must die of the same signal.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char** argv) {
  const char* what = argc > 1 ? argv[1] : "abort";
  printf("about to die: %s\n", what);
  fflush(stdout);
  if (strcmp(what, "segv") == 0) {
    __asm__ volatile("sd zero, 16(zero)");  // a store to unmapped page 0
  } else if (strcmp(what, "ill") == 0) {
    __asm__ volatile(".word 0xffffffff");
  } else if (strcmp(what, "ebreak") == 0) {
    __asm__ volatile("ebreak");
  }
  abort();
}
