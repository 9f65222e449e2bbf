// The options of `tandem run` that refer to each other by id: -chardev (a host side), -drive (a
// disk image) and the virtio -device lines that use them (virtio-blk-device,drive=ID,
// virtconsole,chardev=ID). QEMU's spellings and semantics: "a,,b" is a comma inside a value,
// ids start with a letter, a drive or chardev serves one device, -drive if=virtio (the default)
// adds its virtio-blk-device by itself, after the explicit -device lines as QEMU orders them.
// Tandem has no PCI: the virtio devices sit on virtio-mmio, so virtio-*-pci names are refused
// with a message saying which name to use.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "machine/machine_config.h"

namespace tandem::cli {

class DeviceOptions {
 public:
  explicit DeviceOptions(MachineConfig& config) : config_(config) {}

  // -chardev TYPE,id=ID[,...]. Returns the help text for "-chardev help", else "".
  std::string add_chardev(std::string_view spec);
  // -drive / --drive. Checks that the file exists.
  void add_drive(std::string_view spec);
  // -serial chardev:ID: the backend spec of that chardev, which is then in use.
  std::string use_chardev_for_serial(std::string_view id);
  // -device DRIVER,props when DRIVER is a virtio device name (or a virtio-*-pci one, refused).
  // Returns false for other drivers.
  bool add_device(std::string_view driver, const std::vector<std::string>& props);
  // After every option: ids for drives that have none, one virtio-blk-device per if=virtio
  // drive. Fills config.drives and config.virtio_devices.
  void finish();

 private:
  std::string take_chardev(std::string_view id, std::string_view user);
  void add_console(std::string_view driver, const std::vector<std::string>& props,
                   bool is_serial_bus);

  MachineConfig& config_;
  std::map<std::string, std::string, std::less<>> chardevs_;  // id -> backend spec
  std::set<std::string, std::less<>> used_chardevs_;
  std::vector<DriveConfig> drives_;
  std::set<std::string, std::less<>> used_drives_;
  // virtio-serial-devices (indices into config.virtio_devices) still waiting for their port.
  std::vector<size_t> portless_serial_buses_;
  bool any_serial_bus_ = false;
};

// QEMU's option lists: "a=1,b=2,flag" split at single commas; ",," is a comma inside a part.
std::vector<std::string> split_option_list(std::string_view text);

}  // namespace tandem::cli
