// Direct kernel boot for x86 machines (what QEMU's -kernel/-initrd/-append do without firmware):
// recognises a Linux bzImage, a PVH ELF or a multiboot v1 kernel, puts it, its initrd and its
// command line in guest RAM with the boot structures its protocol asks for, and returns the
// state the bootstrap processor starts in.
#pragma once

#include <string>

#include "machine/x86/entry_state.h"
#include "memory/guest_ram.h"

namespace tandem::x86 {

struct BootRequest {
  std::string kernel_path, initrd_path, cmdline;
  unsigned cpus = 1;
};

struct BootResult {
  EntryState bsp;
  std::string format;  // "bzImage" | "pvh" | "multiboot"
};

// Throws Error with a one-line message naming the file for anything it cannot boot: missing or
// unreadable files, unknown formats, malformed or hostile headers, images that do not fit.
// PVH's start_info points at the RSDP that write_firmware_tables() puts in guest RAM; the
// machine calls both, in either order.
BootResult load_kernel(GuestRam& ram, const BootRequest& req);

}  // namespace tandem::x86
