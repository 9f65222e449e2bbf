#include "machine/virtio_devices.h"

#include <algorithm>

#include "base/error.h"
#include "block/open_drive.h"
#include "hw/virtio/blk/virtio_blk.h"
#include "hw/virtio/console/virtio_console.h"
#include "hw/virtio/rng/virtio_rng.h"

namespace tandem {

namespace {

const DriveConfig& find_drive(const MachineConfig& config, const std::string& id) {
  auto it = std::find_if(config.drives.begin(), config.drives.end(),
                         [&](const DriveConfig& d) { return d.id == id; });
  if (it == config.drives.end()) fail("virtio-blk device: no drive with id '{}'", id);
  return *it;
}

}  // namespace

bool is_stdio_backend(const std::string& spec) {
  return spec == "stdio" || spec == "mon:stdio";
}

std::unique_ptr<VirtioDevice> VirtioDeviceBuilder::build(
    const VirtioDeviceConfig& dev, std::vector<std::unique_ptr<CharBackend>>& backends) {
  switch (dev.kind) {
    case VirtioDeviceConfig::Kind::kRng:
      return std::make_unique<VirtioRng>();
    case VirtioDeviceConfig::Kind::kConsole: {
      const std::string spec = dev.backend.empty() ? "null" : dev.backend;
      if (is_stdio_backend(spec)) {
        if (stdio_taken_) {
          fail(
              "the terminal (stdio) is already the serial console: give the virtio console "
              "another backend (file:PATH, null), or use -serial none");
        }
        stdio_taken_ = true;
      }
      backends.push_back(make_char_backend(spec, loop_, control_));
      return std::make_unique<VirtioConsole>(*backends.back());
    }
    case VirtioDeviceConfig::Kind::kBlk: {
      const DriveConfig& drive = find_drive(config_, dev.drive);
      VirtioBlk::Options options;
      options.serial = drive.serial;
      return std::make_unique<VirtioBlk>(open_block_driver(drive, loop_), options);
    }
  }
  fail("unknown virtio device kind");
}

}  // namespace tandem
