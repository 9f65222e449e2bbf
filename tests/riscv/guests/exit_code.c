// Exit status from argv[1] (default 42), through exit() after output buffered in stdio.
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char** argv) {
  int code = argc > 1 ? atoi(argv[1]) : 42;
  printf("exiting with %d\n", code);
  exit(code);
}
