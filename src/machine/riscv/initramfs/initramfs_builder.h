// Builds the default riscv64 guest's initramfs: Debian's static busybox, the virtio modules the
// kernel builds as modules (loaded in modules.dep order), and an /init that mounts proc, sys
// and devtmpfs, loads the modules, sets the clock from the RTC, mounts the virtio disks it
// finds under /mnt, prints a banner and starts a shell with job control on the console.
// scripts/fetch-riscv-guest.sh puts busybox and the modules in the cache this reads from.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tandem::riscv {

struct InitramfsOptions {
  std::string busybox;      // a static riscv64 busybox binary
  std::string modules_dir;  // modules.dep + kernel/..., as the fetch script leaves it; "" = none
  // Names as the kernel knows them ('-' and '_' are the same). Ones absent from modules.dep
  // are taken to be built in.
  // crc32c_generic: ext4's metadata checksums (a soft dependency modules.dep leaves out).
  std::vector<std::string> modules = {"virtio_mmio", "virtio_blk",     "virtio_net",
                                      "virtio_rng",  "virtio_console", "crc32c_generic",
                                      "ext4"};
  // When not empty, /init runs this shell script instead of the interactive shell and then ends
  // the VM through the test finisher with the script's exit status.
  std::string autorun;
  // More files for the guest (programs for autorun scripts, say), by path in the archive
  // ("usr/bin/foo"); folders are made as needed. A path the archive already has is an error.
  struct File {
    std::string path;
    std::vector<uint8_t> data;
    uint32_t perm = 0755;
  };
  std::vector<File> extra_files;
  uint32_t mtime = 0;
};

struct ModulePlan {
  std::vector<std::string> load_order;  // modules.dep paths, every module after its dependencies
  std::vector<std::string> not_found;   // wanted names modules.dep does not list
};

// Plans the loading of `wanted` (and what they depend on) from the text of a modules.dep.
// Throws Error on a dependency cycle or a malformed line.
ModulePlan plan_modules(const std::string& modules_dep, const std::vector<std::string>& wanted);

// The /init script. It loads the modules listed (absolute paths, in order) in
// /etc/tandem/modules; with `autorun` it runs /etc/tandem/autorun instead of a shell.
std::string init_script(bool autorun);

// Reads the inputs and returns the cpio archive. Throws Error naming the file on bad input.
std::vector<uint8_t> build_initramfs(const InitramfsOptions& options);

}  // namespace tandem::riscv
