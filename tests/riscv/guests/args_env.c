// argv, selected environment variables and the auxiliary vector.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/utsname.h>
#include <unistd.h>

extern char** environ;

int main(int argc, char** argv) {
  printf("argc=%d\n", argc);
  for (int i = 1; i < argc; ++i) printf("argv[%d]=%s\n", i, argv[i]);
  const char* v = getenv("TANDEM_TEST_VAR");
  printf("TANDEM_TEST_VAR=%s\n", v ? v : "(unset)");
  const char* u = getenv("TANDEM_TEST_UNSET");
  printf("TANDEM_TEST_UNSET=%s\n", u ? u : "(unset)");
  printf("AT_PAGESZ=%lu\n", getauxval(AT_PAGESZ));
  printf("AT_HWCAP=%#lx\n", getauxval(AT_HWCAP));
  printf("AT_SECURE=%lu\n", getauxval(AT_SECURE));
  const unsigned char* rnd = (const unsigned char*)getauxval(AT_RANDOM);
  printf("AT_RANDOM present=%d\n", rnd != NULL);
  printf("AT_PHENT=%lu\n", getauxval(AT_PHENT));
  const char* execfn = (const char*)getauxval(AT_EXECFN);
  printf("AT_EXECFN ends like argv0=%d\n",
         execfn && strlen(execfn) >= 4 && strcmp(execfn + strlen(execfn) - 4, "_env") == 0);
  printf("sp aligned=%d\n", ((unsigned long)__builtin_frame_address(0) & 15) == 0);
  struct utsname u_;
  uname(&u_);
  printf("machine=%s\n", u_.machine);
  printf("uid match=%d\n", getuid() == geteuid());
  return argc;
}
