// A stand-alone `tandem-user` for the tests until the main binary's `tandem user` is wired:
// same code path (user_main), interpreter engine.
#include "user/user_main.h"

int main(int argc, char** argv) {
  return tandem::user::user_main(argc - 1, argv + 1);
}
