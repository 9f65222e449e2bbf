#include "machine/riscv/default_guest.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "base/error.h"
#include "machine/riscv/initramfs/initramfs_builder.h"

namespace tandem::riscv {

namespace fs = std::filesystem;

std::string default_guest_dir() {
  if (const char* cache = std::getenv("TANDEM_CACHE"); cache && *cache) {
    return std::string(cache) + "/riscv64";
  }
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/root") + "/.cache/tandem/riscv64";
}

void apply_default_guest(MachineConfig& config) {
  if (!config.kernel.empty()) return;
  const fs::path dir = default_guest_dir();
  for (const char* part : {"fw_jump.bin", "Image", "busybox", "modules/modules.dep"}) {
    if (!fs::exists(dir / part)) {
      fail(
          "no kernel given and the default Debian riscv64 guest is not fetched ({} is missing): "
          "run scripts/fetch-riscv-guest.sh, or pass --kernel",
          (dir / part).string());
    }
  }
  if (config.bios.empty()) config.bios = (dir / "fw_jump.bin").string();
  config.kernel = (dir / "Image").string();
  if (config.append.empty()) config.append = "console=ttyS0";
  if (config.initrd.empty()) {
    InitramfsOptions options;
    options.busybox = (dir / "busybox").string();
    options.modules_dir = (dir / "modules").string();
    const std::vector<uint8_t> archive = build_initramfs(options);
    // Written next to the parts it is made of; a temporary name and a rename keep a concurrent
    // start from reading half a file.
    const fs::path out = dir / "initramfs.cpio";
    const fs::path tmp = dir / ("initramfs.cpio." + std::to_string(::getpid()));
    {
      std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
      f.write(reinterpret_cast<const char*>(archive.data()),
              static_cast<std::streamsize>(archive.size()));
      if (!f) fail("cannot write {}", tmp.string());
    }
    std::error_code ec;
    fs::rename(tmp, out, ec);
    if (ec) fail("cannot write {}: {}", out.string(), ec.message());
    config.initrd = out.string();
  }
}

}  // namespace tandem::riscv
