// `tandem user [options] program [args...]`: runs a static riscv64 Linux program on this host,
// like qemu-riscv64.
#pragma once

#include <functional>
#include <memory>

#include "target/riscv/engine.h"

namespace tandem::user {

// Builds the binary translator's engine over the guest's memory (provided by the translator).
using EngineFactory = std::function<std::unique_ptr<riscv::ExecutionEngine>(
    riscv::GuestMemory& mem, const riscv::TraceOptions& trace)>;

// argv holds what follows `tandem user` (argv[0] is not a program name). Runs the interpreter.
int user_main(int argc, char** argv);
// As above, with the translator as the default engine (`--interp` selects the interpreter).
int user_main(int argc, char** argv, const EngineFactory& translator);

}  // namespace tandem::user
