/* triple-fault guest: loads an empty IDT and executes ud2. #UD cannot be delivered, nor the #GP
 * and #DF that follow: the CPU shuts down. The VMM must end with an error and a register dump. */
#include "guest.h"

uint32_t guest_main(void) {
  printf("triple-fault: loading an empty IDT and faulting\n");
  struct {
    uint16_t limit;
    uint64_t base;
  } __attribute__((packed)) empty = {0, 0};
  __asm__ volatile("lidt %0; ud2" ::"m"(empty));
  printf("triple-fault: still running after the fault\n");
  return EXIT_CHECK_FAILED;
}
