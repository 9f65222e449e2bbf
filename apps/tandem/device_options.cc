#include "apps/tandem/device_options.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

#include "base/error.h"

namespace tandem::cli {
namespace {

using Kind = VirtioDeviceConfig::Kind;

// "key=value" -> {key, value}; "flag" -> {flag, nullopt}.
std::pair<std::string_view, std::optional<std::string_view>> key_value(std::string_view prop) {
  size_t eq = prop.find('=');
  if (eq == std::string_view::npos) return {prop, std::nullopt};
  return {prop.substr(0, eq), prop.substr(eq + 1)};
}

// QEMU's ids: a letter, then letters, digits, '-', '.' and '_'.
void check_id(std::string_view what, std::string_view id) {
  auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  bool ok = !id.empty() && letter(id[0]);
  for (char c : id) {
    ok = ok && (letter(c) || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_');
  }
  if (!ok) {
    fail("{}: invalid id '{}' (a letter, then letters, digits, '-', '.' or '_')", what, id);
  }
}

// QEMU's boolean properties: on/off (also yes/no, true/false); a bare "key" means on.
bool parse_switch(std::string_view what, std::string_view key,
                  std::optional<std::string_view> value) {
  if (!value || *value == "on" || *value == "yes" || *value == "true") return true;
  if (*value == "off" || *value == "no" || *value == "false") return false;
  fail("{}: {} must be on or off, not '{}'", what, key, *value);
}

std::string need_value(std::string_view what, std::string_view key,
                       std::optional<std::string_view> value) {
  if (!value || value->empty()) fail("{}: {} needs a value ({}=...)", what, key, key);
  return std::string(*value);
}

constexpr size_t kMaxSerialBytes = 20;  // virtio-blk's GET_ID answer

}  // namespace

std::vector<std::string> split_option_list(std::string_view text) {
  std::vector<std::string> parts(1);
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != ',') {
      parts.back().push_back(text[i]);
    } else if (i + 1 < text.size() && text[i + 1] == ',') {
      parts.back().push_back(',');
      ++i;
    } else {
      parts.emplace_back();
    }
  }
  return parts;
}

std::string DeviceOptions::add_chardev(std::string_view spec) {
  auto props = split_option_list(spec);
  std::string type = props[0];
  if (auto [key, value] = key_value(type); value) {
    if (key != "backend") fail("-chardev: expected a backend type first, got '{}'", type);
    type = std::string(*value);
  }
  if (type == "help") {
    return "Available chardev backend types:\n"
           "stdio                the terminal (Ctrl-A X quits)\n"
           "file                 path=PATH: output to PATH (truncated), no input\n"
           "null                 output dropped, no input\n";
  }
  if (type != "stdio" && type != "file" && type != "null") {
    fail("-chardev: backend '{}' is not supported (use stdio, file or null)", type);
  }
  std::string id, path;
  for (size_t i = 1; i < props.size(); ++i) {
    auto [key, value] = key_value(props[i]);
    if (key == "id") {
      id = need_value("-chardev", key, value);
    } else if (key == "path" && type == "file") {
      path = need_value("-chardev file", key, value);
    } else if ((key == "mux" || key == "signal") && type == "stdio") {
      // mux=on lets QEMU share one terminal between devices; Tandem gives a chardev to one
      // device, so sharing fails when a second device asks for it. signal: the Ctrl-A escape
      // handles quitting either way.
      parse_switch("-chardev stdio", key, value);
    } else {
      fail("-chardev {}: unknown property '{}'", type, props[i]);
    }
  }
  if (id.empty()) fail("-chardev {}: needs id=ID (a device names it with chardev=ID)", type);
  check_id("-chardev", id);
  if (type == "file" && path.empty()) fail("-chardev file: needs path=PATH");
  std::string backend = type == "file" ? "file:" + path : type;
  if (!chardevs_.emplace(id, backend).second) fail("-chardev: id '{}' is used twice", id);
  return {};
}

std::string DeviceOptions::take_chardev(std::string_view id, std::string_view user) {
  auto it = chardevs_.find(id);
  if (it == chardevs_.end()) fail("{}: no -chardev with id '{}'", user, id);
  if (!used_chardevs_.insert(std::string(id)).second) {
    fail("{}: chardev '{}' is already used by another device (each serves one)", user, id);
  }
  return it->second;
}

std::string DeviceOptions::use_chardev_for_serial(std::string_view id) {
  return take_chardev(id, "-serial chardev:" + std::string(id));
}

void DeviceOptions::add_drive(std::string_view spec) {
  DriveConfig d;
  bool have_file = false;
  std::set<std::string, std::less<>> seen;
  for (const std::string& prop : split_option_list(spec)) {
    auto [key, value] = key_value(prop);
    if (key.empty()) fail("-drive: empty property in '{}'", spec);
    if (!seen.insert(std::string(key)).second) fail("-drive: '{}' is given twice", key);
    if (key == "file") {
      d.file = need_value("-drive", key, value);
      have_file = true;
    } else if (key == "format") {
      std::string format = need_value("-drive", key, value);
      if (format != "raw" && format != "qcow2") {
        fail("-drive: unsupported image format '{}' (supported: raw, qcow2)", format);
      }
      d.format = format;
    } else if (key == "readonly") {
      d.readonly = parse_switch("-drive", key, value);
    } else if (key == "cache") {
      d.cache = need_value("-drive", key, value);
      if (d.cache != "writeback" && d.cache != "none" && d.cache != "unsafe") {
        fail("-drive: cache '{}' is not supported (use writeback, none or unsafe)", d.cache);
      }
    } else if (key == "aio") {
      d.aio = need_value("-drive", key, value);
      if (d.aio != "io_uring" && d.aio != "threads") {
        fail("-drive: aio '{}' is not supported (use io_uring or threads)", d.aio);
      }
    } else if (key == "id") {
      d.id = need_value("-drive", key, value);
      check_id("-drive", d.id);
    } else if (key == "serial") {
      d.serial = need_value("-drive", key, value);
      if (d.serial.size() > kMaxSerialBytes) {
        fail("-drive: serial '{}' is longer than {} bytes", d.serial, kMaxSerialBytes);
      }
    } else if (key == "if") {
      std::string iface = need_value("-drive", key, value);
      if (iface == "none") {
        d.attach = false;
      } else if (iface != "virtio") {
        fail(
            "-drive: if={} is not supported (Tandem attaches disks through virtio: use "
            "if=virtio, or if=none with -device virtio-blk-device,drive=ID)",
            iface);
      }
    } else if (key == "media") {
      if (need_value("-drive", key, value) != "disk") fail("-drive: only media=disk is supported");
    } else {
      fail(
          "-drive: unknown property '{}' (it has file, format, readonly, cache, aio, id, serial "
          "and if)",
          prop);
    }
  }
  if (!have_file) fail("-drive: needs file=PATH (got '{}')", spec);
  struct stat st;
  if (::stat(d.file.c_str(), &st) != 0) {
    fail("-drive: cannot open '{}': {}", d.file, std::strerror(errno));
  }
  if (S_ISDIR(st.st_mode)) fail("-drive: '{}' is a directory, not a disk image", d.file);
  if (!d.attach && d.id.empty()) {
    fail("-drive: if=none needs id=ID (-device virtio-blk-device,drive=ID attaches it)");
  }
  for (const auto& other : drives_) {
    if (!d.id.empty() && other.id == d.id) fail("-drive: id '{}' is used twice", d.id);
  }
  drives_.push_back(std::move(d));
}

bool DeviceOptions::add_device(std::string_view driver, const std::vector<std::string>& props) {
  std::string name(driver);
  if (name.starts_with("virtio-") && name.ends_with("-pci")) {
    std::string mmio = name.substr(0, name.size() - 4) + "-device";
    fail(
        "{}: Tandem has no PCI; its virtio devices are on virtio-mmio (use -device {})", name,
        mmio == "virtio-blk-device" || mmio == "virtio-rng-device" || mmio == "virtio-serial-device"
            ? mmio
            : std::string("help for the list"));
  }
  if (name == "virtio-blk-device") {
    std::string drive, serial;
    for (size_t i = 1; i < props.size(); ++i) {
      auto [key, value] = key_value(props[i]);
      if (key == "id") {
        check_id(name, need_value(name, key, value));
      } else if (key == "drive") {
        drive = need_value(name, key, value);
      } else if (key == "serial") {
        serial = need_value(name, key, value);
        if (serial.size() > kMaxSerialBytes) {
          fail("{}: serial '{}' is longer than {} bytes", name, serial, kMaxSerialBytes);
        }
      } else {
        fail("{}: unknown property '{}' (it has drive, serial and id)", name, props[i]);
      }
    }
    if (drive.empty()) fail("{}: needs drive=ID (the id of a -drive ...,if=none)", name);
    DriveConfig* found = nullptr;
    for (auto& d : drives_) {
      if (d.id == drive) found = &d;
    }
    if (!found) fail("{}: no -drive with id '{}'", name, drive);
    if (found->attach || !used_drives_.insert(drive).second) {
      fail("{}: drive '{}' is already attached to a device{}", name, drive,
           found->attach ? " (it is if=virtio; give it if=none)" : "");
    }
    if (!serial.empty()) {
      if (!found->serial.empty() && found->serial != serial) {
        fail("{}: serial '{}' contradicts the drive's serial '{}'", name, serial, found->serial);
      }
      found->serial = serial;
    }
    config_.virtio_devices.push_back(VirtioDeviceConfig{Kind::kBlk, drive, {}});
    return true;
  }
  if (name == "virtio-rng-device") {
    for (size_t i = 1; i < props.size(); ++i) {
      auto [key, value] = key_value(props[i]);
      if (key != "id") fail("{}: unknown property '{}' (it has id)", name, props[i]);
      check_id(name, need_value(name, key, value));
    }
    config_.virtio_devices.push_back(VirtioDeviceConfig{Kind::kRng, {}, {}});
    return true;
  }
  if (name == "virtio-serial-device" || name == "virtconsole" || name == "virtio-console") {
    add_console(name, props, name == "virtio-serial-device");
    return true;
  }
  if (name == "virtserialport") {
    fail(
        "virtserialport is not supported: Tandem's virtio-serial-device has one port, a "
        "console (-device virtconsole)");
  }
  if (name.starts_with("virtio-") || name.starts_with("vhost-")) {
    fail("{}: not a device Tandem has (-device help lists them)", name);
  }
  return false;
}

// Tandem's virtio console has one port (no VIRTIO_CONSOLE_F_MULTIPORT), so QEMU's pair
// "-device virtio-serial-device -device virtconsole,chardev=X" becomes one console device whose
// port is the virtconsole; "virtio-console" is both at once.
void DeviceOptions::add_console(std::string_view name, const std::vector<std::string>& props,
                                bool is_serial_bus) {
  std::optional<std::string> backend;
  for (size_t i = 1; i < props.size(); ++i) {
    auto [key, value] = key_value(props[i]);
    if (key == "id") {
      check_id(name, need_value(name, key, value));
    } else if (key == "chardev" && !is_serial_bus) {
      if (backend) fail("{}: give chardev= or backend=, once", name);
      backend = take_chardev(need_value(name, key, value), name);
    } else if (key == "backend" && name == "virtio-console") {
      if (backend) fail("{}: give chardev= or backend=, once", name);
      std::string spec = need_value(name, key, value);
      if (spec != "stdio" && spec != "null" && !(spec.starts_with("file:") && spec.size() > 5)) {
        fail("{}: backend '{}' is not supported (use stdio, file:PATH or null)", name, spec);
      }
      backend = spec;
    } else if (key == "max_ports" && is_serial_bus) {
      if (value != "1") fail("{}: Tandem's virtio-serial-device has max_ports=1", name);
    } else {
      fail("{}: unknown property '{}' (it has {})", name, props[i],
           is_serial_bus              ? "id"
           : name == "virtio-console" ? "chardev or backend, and id"
                                      : "chardev and id");
    }
  }
  if (is_serial_bus) {
    any_serial_bus_ = true;
    portless_serial_buses_.push_back(config_.virtio_devices.size());
    // Until a virtconsole plugs in, the device has a port with no host side, as QEMU's
    // virtconsole without chardev.
    config_.virtio_devices.push_back(VirtioDeviceConfig{Kind::kConsole, {}, "null"});
    return;
  }
  // QEMU's virtconsole without chardev: the port exists and its output goes nowhere.
  std::string host = backend.value_or("null");
  if (name == "virtio-console") {
    config_.virtio_devices.push_back(VirtioDeviceConfig{Kind::kConsole, {}, host});
    return;
  }
  if (portless_serial_buses_.empty() && any_serial_bus_) {
    fail(
        "virtconsole: Tandem's virtio-serial-device holds one port; add another -device "
        "virtio-serial-device before this virtconsole");
  }
  if (portless_serial_buses_.empty()) {
    fail(
        "virtconsole: needs a -device virtio-serial-device before it (or use -device "
        "virtio-console)");
  }
  config_.virtio_devices[portless_serial_buses_.back()].backend = host;
  portless_serial_buses_.pop_back();
}

void DeviceOptions::finish() {
  // Generated ids, as QEMU's, for drives without one; never one a user gave.
  unsigned next = 0;
  for (auto& d : drives_) {
    if (!d.id.empty()) continue;
    for (;;) {
      std::string id = "drive" + std::to_string(next++);
      bool taken = false;
      for (const auto& other : drives_) taken = taken || other.id == id;
      if (!taken) {
        d.id = id;
        break;
      }
    }
  }
  for (const auto& d : drives_) {
    if (d.attach) config_.virtio_devices.push_back(VirtioDeviceConfig{Kind::kBlk, d.id, {}});
  }
  config_.drives = std::move(drives_);
  drives_.clear();
}

}  // namespace tandem::cli
