// `tandem user [options] program [args...]`: runs a static riscv64 Linux program on this host,
// like qemu-riscv64, under the binary translator.
#pragma once

namespace tandem::app {

// argv holds what follows `tandem user`.
int user_command(int argc, char** argv);

}  // namespace tandem::app
