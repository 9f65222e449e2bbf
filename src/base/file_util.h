// Whole-file reads for loaders (kernels, firmware, initrds, ELF programs).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tandem {

// The contents of the regular file at `path`, read in bulk. Throws Error "PATH: reason" when it
// cannot be opened or read or is not a regular file.
std::vector<uint8_t> read_file(const std::string& path);

}  // namespace tandem
