#include "machine/x86/boot/loader.h"

#include "base/error.h"
#include "machine/x86/boot/bzimage.h"
#include "machine/x86/boot/elf.h"
#include "machine/x86/boot/loader_util.h"
#include "machine/x86/boot/multiboot.h"
#include "machine/x86/boot/pvh.h"

namespace tandem::x86 {

BootResult load_kernel(GuestRam& ram, const BootRequest& req) {
  if (req.kernel_path.empty()) fail("no kernel given");
  std::vector<uint8_t> bytes = read_whole_file(req.kernel_path, ram.total_size(), "kernel");
  ByteView file(bytes);

  // The order QEMU uses: a Linux setup header first, then multiboot (which may also be an ELF),
  // then a PVH ELF.
  if (is_bzimage(file)) return load_bzimage(ram, req, file);
  if (auto header = find_multiboot_header(file)) return load_multiboot(ram, req, file, *header);
  if (is_elf(file)) {
    ElfImage elf = parse_elf(file, req.kernel_path);
    if (auto entry = pvh_entry_point(elf, file, req.kernel_path)) {
      return load_pvh(ram, req, file, elf, *entry);
    }
    fail(
        "{}: not a bzImage, PVH ELF or multiboot kernel (ELF without a XEN_ELFNOTE_PHYS32_ENTRY "
        "note)",
        req.kernel_path);
  }
  fail("{}: not a bzImage, PVH ELF or multiboot kernel", req.kernel_path);
}

}  // namespace tandem::x86
