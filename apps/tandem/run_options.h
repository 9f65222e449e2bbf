// `tandem run` options -> MachineConfig. Tandem's own long options (--machine, --memory, ...)
// and QEMU's spellings (-M, -machine, -m, -smp, -kernel, -nographic, -device ..., with one dash
// or two, as QEMU accepts them) mean the same thing, so a qemu-system-x86_64 command line works
// after "tandem run". Bad input becomes an Error with a one-line message.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "machine/machine_config.h"

namespace tandem::cli {

struct RunCommand {
  MachineConfig config;
  // When not empty, print this (--help, -M help, -device help) and exit 0 instead of running.
  std::string info;
};

// `args` is what follows "run". Throws Error.
RunCommand parse_run_options(std::span<const std::string> args);

// QEMU's -m size: a number with an optional fraction and suffix B, K, M, G, T, P or E (any case;
// binary units); no suffix means MiB. Rounded up to 8 KiB as QEMU does. Throws Error for 0,
// garbage and overflow.
uint64_t parse_memory_size(std::string_view text);

// The help text of `tandem run`.
std::string run_help();

}  // namespace tandem::cli
