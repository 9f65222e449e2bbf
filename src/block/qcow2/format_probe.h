// Guessing an image's format from its first bytes, as QEMU does when no format is given.
#pragma once

#include <string>

namespace tandem {

// "qcow2" for the qcow2 magic; the name of another format Tandem cannot open when its magic is
// found ("qcow", "vmdk", "vdi", "vhdx", "vpc", "qed"); otherwise "raw". Throws Error when the
// file cannot be opened or read.
std::string probe_image_format(const std::string& path);

}  // namespace tandem
