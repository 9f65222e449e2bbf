// Image locking as QEMU's file driver does it, so that two VMs — Tandem or QEMU, in any mix —
// never write one image at the same time, and nobody reads an image another VM is writing.
//
// The scheme (byte-range locks on the image file, never on its data): an opener holds a shared
// lock on byte 100+i for each permission i it uses and on byte 200+i for each permission it
// refuses to share with others (i: 0 consistent read, 1 write, 2 write unchanged, 3 resize).
// A guest disk uses consistent read (+ write unless read-only) and shares neither write nor
// resize. Before going ahead, an opener checks that nobody refuses a permission it uses and
// nobody uses a permission it refuses. The locks are OFD locks (F_OFD_SETLK): they belong to the
// open file, not the process, so they go away with the fd and two opens in one process conflict.
#pragma once

#include <string>

namespace tandem {

// Locks the open image `fd`. Throws Error, e.g. "Failed to get "write" lock: is another process
// using the image [disk.img]?", on a conflict. Where the file system cannot lock at all, warns
// and returns false.
bool lock_image(int fd, const std::string& path, bool writable);

}  // namespace tandem
