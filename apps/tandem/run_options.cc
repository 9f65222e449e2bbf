#include "apps/tandem/run_options.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <vector>

#include "apps/tandem/device_options.h"
#include "base/error.h"

namespace tandem::cli {
namespace {

// Every option `tandem run` knows, by the name CLI11 sees, and the spellings that lead to it.
// Any spelling may be written with one dash or two (QEMU accepts both); "--name=value" also works.
struct Spelling {
  std::string_view spelling;
  std::string_view name;
  bool takes_value;
};
constexpr Spelling kSpellings[] = {
    {"machine", "machine", true},
    {"M", "machine", true},
    {"accel", "accel", true},
    {"enable-kvm", "enable-kvm", false},
    {"cpu", "cpu", true},
    {"kernel", "kernel", true},
    {"initrd", "initrd", true},
    {"append", "append", true},
    {"bios", "bios", true},
    {"memory", "memory", true},
    {"m", "memory", true},
    {"cpus", "cpus", true},
    {"smp", "smp", true},
    {"serial", "serial", true},
    {"log", "log", true},
    {"nographic", "nographic", false},
    {"nodefaults", "nodefaults", false},
    {"no-user-config", "no-user-config", false},
    {"no-reboot", "no-reboot", false},
    {"run-with", "run-with", true},
    {"async-teardown", "async-teardown", false},
    {"display", "display", true},
    {"device", "device", true},
    {"drive", "drive", true},
    {"chardev", "chardev", true},
    {"help", "help", false},
    {"h", "help", false},
};

const Spelling* find_spelling(std::string_view name) {
  for (const auto& s : kSpellings) {
    if (s.spelling == name) return &s;
  }
  return nullptr;
}

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    size_t pos = text.find(sep, start);
    parts.push_back(text.substr(start, pos == std::string_view::npos ? pos : pos - start));
    if (pos == std::string_view::npos) return parts;
    start = pos + 1;
  }
}

// "key=value" -> {key, value}; "flag" -> {flag, nullopt}.
std::pair<std::string_view, std::optional<std::string_view>> key_value(std::string_view prop) {
  size_t eq = prop.find('=');
  if (eq == std::string_view::npos) return {prop, std::nullopt};
  return {prop.substr(0, eq), prop.substr(eq + 1)};
}

// An unsigned number as QEMU's integer properties take it: decimal, 0x hex, or 0 octal.
std::optional<uint64_t> parse_number(std::string_view text) {
  int base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    base = 16;
    text.remove_prefix(2);
  } else if (text.size() > 1 && text[0] == '0') {
    base = 8;
    text.remove_prefix(1);
  }
  if (text.empty()) return std::nullopt;
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

constexpr unsigned kMaxCpus = 1024;

unsigned parse_cpu_count(std::string_view text, std::string_view what) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  std::optional<uint64_t> n;
  if (!text.empty() && ec == std::errc() && end == text.data() + text.size()) n = value;
  if (!n) fail("{}: invalid CPU count '{}'", what, text);
  if (*n == 0) fail("{}: the CPU count must be at least 1", what);
  if (*n > kMaxCpus) fail("{}: {} CPUs is more than Tandem supports ({})", what, *n, kMaxCpus);
  return static_cast<unsigned>(*n);
}

// QEMU's -smp [cpus=]n[,maxcpus=m][,sockets=s][,dies=d][,clusters=c][,cores=c][,threads=t].
// Tandem has no CPU hotplug and shows guests a flat topology, so only the count of CPUs
// present at boot matters; the topology is still checked as QEMU checks it.
unsigned parse_smp(std::string_view text) {
  std::optional<uint64_t> cpus, maxcpus;
  std::map<std::string, uint64_t> topology;
  bool first = true;
  for (std::string_view prop : split(text, ',')) {
    auto [key, value] = key_value(prop);
    if (first && !value) {
      cpus = parse_cpu_count(key, "-smp");
      first = false;
      continue;
    }
    first = false;
    if (!value) fail("-smp: expected key=value, got '{}'", prop);
    if (key == "cpus") {
      cpus = parse_cpu_count(*value, "-smp cpus");
    } else if (key == "maxcpus") {
      maxcpus = parse_cpu_count(*value, "-smp maxcpus");
    } else if (key == "sockets" || key == "dies" || key == "clusters" || key == "cores" ||
               key == "threads" || key == "books" || key == "drawers") {
      auto n = parse_number(*value);
      if (!n || *n == 0 || *n > kMaxCpus) fail("-smp: invalid {} '{}'", key, *value);
      topology[std::string(key)] = *n;
    } else {
      fail("-smp: unknown property '{}'", key);
    }
  }
  uint64_t product = 1;
  for (const auto& [key, n] : topology)
    product *= n;  // each <= 1024, at most 7 factors: no overflow
  if (!cpus) cpus = maxcpus ? *maxcpus : product;
  if (*cpus == 0 || *cpus > kMaxCpus)
    fail("-smp: {} CPUs is more than Tandem supports ({})", *cpus, kMaxCpus);
  if (!maxcpus) maxcpus = cpus;
  if (*maxcpus < *cpus) fail("-smp: maxcpus ({}) is less than cpus ({})", *maxcpus, *cpus);
  // With a partial topology QEMU derives the missing count; it only has to divide evenly.
  bool complete = topology.count("sockets") && topology.count("cores") && topology.count("threads");
  if (!topology.empty()) {
    if (complete && product != *maxcpus) {
      fail("-smp: the topology has {} CPUs, but maxcpus is {}", product, *maxcpus);
    }
    if (!complete && *maxcpus % product != 0) {
      fail("-smp: {} CPUs do not divide into the given topology", *maxcpus);
    }
  }
  return static_cast<unsigned>(*cpus);
}

// QEMU's -m [size=]megs[,slots=n,maxmem=size].
uint64_t parse_memory_option(std::string_view text) {
  std::optional<uint64_t> size;
  bool first = true;
  for (std::string_view prop : split(text, ',')) {
    auto [key, value] = key_value(prop);
    if (first && !value) {
      size = parse_memory_size(key);
    } else if (key == "size" && value) {
      size = parse_memory_size(*value);
    } else if ((key == "slots" || key == "maxmem") && value) {
      fail("-m {}: memory hotplug is not supported", key);
    } else {
      fail("-m: unknown property '{}'", prop);
    }
    first = false;
  }
  if (!size) fail("-m: no memory size in '{}'", text);
  return *size;
}

MachineKind parse_machine_name(std::string_view name) {
  if (name == "x86" || name == "pc" || name == "q35" || name == "microvm" ||
      name.starts_with("pc-q35-") || name.starts_with("pc-i440fx-")) {
    return MachineKind::kX86;
  }
  if (name == "virt" || name == "riscv-virt") return MachineKind::kRiscvVirt;
  fail("unknown machine '{}' (-M help lists the machines)", name);
}

AccelKind parse_accel_name(std::string_view name) {
  if (name == "kvm") return AccelKind::kKvm;
  if (name == "tcg") return AccelKind::kTcg;
  if (name == "interp") return AccelKind::kInterp;
  fail("unknown accelerator '{}' (use kvm, tcg or interp)", name);
}

constexpr std::string_view kMachineHelp =
    "Supported machines are:\n"
    "x86                  x86-64 PC on KVM (also: pc, q35, microvm, pc-q35-*, pc-i440fx-*)\n"
    "virt                 RISC-V RV64GC virt board (also: riscv-virt) (default)\n";
constexpr std::string_view kDeviceHelp =
    "Devices that -device can add:\n"
    "isa-debug-exit       [iobase=0x501][,iosize=2]: a write of v exits with (v << 1) | 1\n"
    "tandem-testdev       test registers for PIO, MMIO and ioeventfd\n"
    "virtio-blk-device    drive=ID[,serial=S]: the disk of -drive ...,if=none,id=ID\n"
    "virtio-rng-device    entropy from the host (the guest's /dev/hwrng)\n"
    "virtio-serial-device a virtio console; its port is the next -device virtconsole\n"
    "virtconsole          [chardev=ID]: the guest's /dev/hvc0, hvc1, ... on the\n"
    "                     host side of -chardev ID (none: output is dropped)\n"
    "virtio-console       [chardev=ID | backend=stdio|file:PATH|null]: both of the above in one\n"
    "The virtio devices sit on virtio-mmio: Tandem has no PCI, so there are no virtio-*-pci\n"
    "devices. -drive file=PATH (if=virtio, the default) adds a virtio-blk-device by itself.\n";
struct Parsed {
  std::optional<std::string> machine, cpu, kernel, initrd, append, bios, memory, cpus, smp, log;
  std::vector<std::string> accel, serial, display, device, drive, chardev, run_with;
  bool enable_kvm = false, nographic = false, nodefaults = false, no_user_config = false,
       no_reboot = false, async_teardown = false, help = false;
};

// CLI11 knows every option by its long name; run_help() is its help text.
void define_options(CLI::App& app, Parsed& p) {
  app.description("Runs a virtual machine. QEMU's spellings of the options also work.");
  auto last = [](CLI::Option* o) { o->multi_option_policy(CLI::MultiOptionPolicy::TakeLast); };
  last(app.add_option(
      "--machine", p.machine,
      "Machine: virt (RISC-V, the default) or x86 (also pc, q35, microvm; the default with "
      "--accel kvm). QEMU: -M, -machine"));
  app.add_option("--accel", p.accel,
                 "Accelerator: kvm (x86) or tcg (RISC-V). QEMU: -accel, -enable-kvm");
  last(app.add_option("--cpu", p.cpu, "CPU model: host or max (x86), rv64 or max (RISC-V)"));
  last(app.add_option("--kernel", p.kernel, "Kernel image (bzImage, ELF, PVH, multiboot)"));
  last(app.add_option("--initrd", p.initrd, "Initial ramdisk"));
  last(app.add_option("--append", p.append, "Kernel command line"));
  last(app.add_option("--bios", p.bios, "Firmware image"));
  last(app.add_option("--memory", p.memory,
                      "Guest RAM: 512M, 2G, 1T, or MiB without a suffix. QEMU: -m"));
  last(app.add_option("--cpus", p.cpus, "Number of vCPUs"));
  last(app.add_option("--smp", p.smp, "QEMU's [cpus=]N[,sockets=S,cores=C,threads=T,maxcpus=M]"));
  app.add_option("--serial", p.serial,
                 "Serial port backend, once per port (COM1, COM2, ...): stdio, mon:stdio, null, "
                 "none (no port), file:PATH");
  last(app.add_option("--log", p.log, "Log level: trace, debug, info, warn, error, off"));
  app.add_flag("--enable-kvm", p.enable_kvm, "Same as --accel kvm");
  app.add_flag("--nographic", p.nographic, "No display; the serial console is on stdio (default)");
  app.add_flag("--nodefaults", p.nodefaults, "No default serial port or isa-debug-exit");
  app.add_flag("--no-user-config", p.no_user_config, "Accepted for QEMU compatibility");
  app.add_flag("--no-reboot", p.no_reboot, "Exit when the guest resets (Tandem always does)");
  app.add_option("--run-with", p.run_with,
                 "async-teardown=on|off: the kernel destroys a KVM VM after Tandem has exited, "
                 "which shortens every run by the host's VM teardown time (default on)");
  app.add_flag("--async-teardown", p.async_teardown, "Same as --run-with async-teardown=on");
  app.add_option("--display", p.display, "Only 'none': Tandem has no graphical display");
  app.add_option("--device", p.device,
                 "A device: virtio-blk-device,drive=ID, virtio-rng-device, virtio-console, "
                 "virtio-serial-device + virtconsole, isa-debug-exit, ... (help lists them)");
  app.add_option("--drive", p.drive,
                 "A disk image, once per disk: file=PATH[,format=raw|qcow2 (probed if not "
                 "given)][,readonly=on|off]"
                 "[,cache=writeback|none|unsafe][,aio=io_uring|threads][,id=ID][,serial=S]"
                 "[,if=virtio|none]. QEMU: -drive");
  app.add_option("--chardev", p.chardev,
                 "A host side for virtconsole: stdio,id=ID | file,id=ID,path=PATH | null,id=ID");
  app.set_help_flag();  // handled below, so that --help works with any spelling
  app.add_flag("--help", p.help, "Print this help");
  app.footer(
      "Keys on the serial console: Ctrl-A X quits, Ctrl-A H helps, Ctrl-A Ctrl-A sends Ctrl-A.\n");
}

void apply_device(std::string_view spec, MachineConfig& config, DeviceOptions& virtio,
                  std::string& info) {
  const std::vector<std::string> props = split_option_list(spec);
  std::string_view driver = props[0];
  size_t first_prop = 1;
  if (auto [key, value] = key_value(driver); value) {
    if (key != "driver") fail("-device: expected a device name first, got '{}'", driver);
    driver = *value;
  }
  if (driver == "help") {
    info = std::string(kDeviceHelp);
    return;
  }
  if (virtio.add_device(driver, props)) return;
  if (driver == "isa-debug-exit") {
    DebugExitConfig dev;
    for (size_t i = first_prop; i < props.size(); ++i) {
      auto [key, value] = key_value(props[i]);
      if (key == "id" && value) continue;  // QEMU's device id: nothing refers to it here
      if ((key != "iobase" && key != "iosize") || !value) {
        fail("isa-debug-exit: unknown property '{}' (it has iobase and iosize)", props[i]);
      }
      auto n = parse_number(*value);
      if (!n) fail("isa-debug-exit: invalid {} '{}'", key, *value);
      if (key == "iobase") {
        if (*n > 0xffff) fail("isa-debug-exit: iobase {:#x} is beyond the I/O space", *n);
        dev.iobase = static_cast<uint16_t>(*n);
      } else {
        if (*n == 0 || *n > 0x10000) fail("isa-debug-exit: invalid iosize {:#x}", *n);
        dev.iosize = static_cast<uint16_t>(*n == 0x10000 ? 0xffff : *n);
      }
    }
    if (uint32_t{dev.iobase} + dev.iosize > 0x10000) {
      fail("isa-debug-exit: ports {:#x}+{:#x} go beyond the I/O space", dev.iobase, dev.iosize);
    }
    config.debug_exits.push_back(dev);
    return;
  }
  if (driver == "tandem-testdev") {
    for (size_t i = first_prop; i < props.size(); ++i) {
      auto [key, value] = key_value(props[i]);
      if (key == "id" && value) continue;
      fail("tandem-testdev: unknown property '{}'", props[i]);
    }
    config.testdev = true;
    return;
  }
  fail("unknown device '{}' (-device help lists them)", driver);
}

SerialConfig parse_serial(std::string_view spec, DeviceOptions& devices) {
  if (spec == "stdio" || spec == "mon:stdio" || spec == "null" || spec == "none") {
    return SerialConfig{std::string(spec)};
  }
  if (spec.starts_with("chardev:"))
    return SerialConfig{devices.use_chardev_for_serial(spec.substr(8))};
  if (spec.starts_with("file:")) {
    if (spec.size() == 5) fail("-serial file: needs a path");
    return SerialConfig{std::string(spec)};
  }
  fail(
      "unsupported serial backend '{}' (use stdio, mon:stdio, null, none, file:PATH or "
      "chardev:ID)",
      spec);
}

}  // namespace

uint64_t parse_memory_size(std::string_view text) {
  std::string_view original = text;
  auto garbage = [&]() -> uint64_t { fail("invalid memory size '{}'", original); };
  if (text.empty() || text[0] < '0' || text[0] > '9') return garbage();
  size_t i = 0;
  uint64_t whole = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    if (__builtin_mul_overflow(whole, 10, &whole) ||
        __builtin_add_overflow(whole, uint64_t(text[i] - '0'), &whole)) {
      fail("memory size '{}' is too large", original);
    }
  }
  // Fraction digits, kept as numerator / denominator (at most 9 digits matter).
  uint64_t frac = 0, frac_den = 1;
  if (i < text.size() && text[i] == '.') {
    ++i;
    size_t digits = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, ++digits) {
      if (digits < 9) {
        frac = frac * 10 + uint64_t(text[i] - '0');
        frac_den *= 10;
      }
    }
    if (digits == 0) return garbage();
  }
  unsigned shift = 20;  // no suffix: MiB
  if (i < text.size()) {
    switch (text[i]) {
      case 'b':
      case 'B':
        shift = 0;
        break;
      case 'k':
      case 'K':
        shift = 10;
        break;
      case 'm':
      case 'M':
        shift = 20;
        break;
      case 'g':
      case 'G':
        shift = 30;
        break;
      case 't':
      case 'T':
        shift = 40;
        break;
      case 'p':
      case 'P':
        shift = 50;
        break;
      case 'e':
      case 'E':
        shift = 60;
        break;
      default:
        return garbage();
    }
    ++i;
  }
  if (i != text.size()) return garbage();
  if (shift == 0 && frac != 0) return garbage();  // fractions of a byte
  uint64_t bytes;
  if (whole > (~uint64_t{0} >> shift)) fail("memory size '{}' is too large", original);
  bytes = whole << shift;
  // frac / frac_den of a unit; frac_den <= 1e9 < 2^30, so split the unit to avoid overflow.
  unsigned pre = shift >= 30 ? shift - 30 : 0;
  uint64_t part = ((frac << (shift - pre)) / frac_den) << pre;
  if (__builtin_add_overflow(bytes, part, &bytes)) fail("memory size '{}' is too large", original);
  if (bytes == 0) fail("memory size must be greater than 0 (got '{}')", original);
  constexpr uint64_t kAlign = 8192;
  if (bytes > ~uint64_t{0} - (kAlign - 1)) fail("memory size '{}' is too large", original);
  return (bytes + kAlign - 1) & ~(kAlign - 1);
}

std::string run_help() {
  CLI::App app("tandem run", "tandem run");
  Parsed p;
  define_options(app, p);
  return app.help();
}

RunCommand parse_run_options(std::span<const std::string> args) {
  // Normalize every spelling to "--name=value" / "--name" so that CLI11 sees one form, values
  // that start with a dash (-append "-v") stay values, and errors name what the user typed.
  std::vector<std::string> normalized{"tandem run"};
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg.size() < 2 || arg[0] != '-') fail("unexpected argument '{}'", arg);
    bool two_dashes = arg.starts_with("--");
    std::string_view body = arg.substr(two_dashes ? 2 : 1);
    std::optional<std::string_view> inline_value;
    if (two_dashes) {
      if (auto eq = body.find('='); eq != std::string_view::npos) {
        inline_value = body.substr(eq + 1);
        body = body.substr(0, eq);
      }
    }
    const Spelling* spelling = find_spelling(body);
    std::string written(two_dashes ? arg.substr(0, 2 + body.size()) : arg);
    if (!spelling) fail("unknown option '{}'", written);
    std::string name(spelling->name);
    if (!spelling->takes_value) {
      if (inline_value) fail("option '{}' takes no value", written);
      normalized.push_back("--" + name);
      continue;
    }
    std::string value;
    if (inline_value) {
      value = *inline_value;
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      fail("option '{}' needs a value", written);
    }
    if (value.empty()) {
      // CLI11 refuses "--name=" but takes an empty value as an argument of its own.
      normalized.push_back("--" + name);
      normalized.push_back(value);
    } else {
      normalized.push_back("--" + name + "=" + value);
    }
  }

  CLI::App app("tandem run", "tandem run");
  Parsed p;
  define_options(app, p);
  std::vector<const char*> argv;
  for (const auto& s : normalized) argv.push_back(s.c_str());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    fail("{}", e.what());
  }

  RunCommand run;
  MachineConfig& c = run.config;
  if (p.help) {
    run.info = app.help();
    return run;
  }
  std::optional<AccelKind> accel;
  bool machine_named = false;
  if (p.machine) {
    auto props = split(*p.machine, ',');
    std::string_view type = props[0];
    size_t first = 1;
    if (auto [key, value] = key_value(type); value) {
      first = 0;  // "-machine type=q35,..." or "-machine accel=kvm"
      type = {};
    }
    for (size_t i = first; i < props.size(); ++i) {
      auto [key, value] = key_value(props[i]);
      if (key == "type" && value) {
        type = *value;
      } else if (key == "accel" && value) {
        accel = parse_accel_name(split(*value, ':')[0]);  // "kvm:tcg": the first is tried first
      } else {
        fail("-machine: unsupported property '{}'", props[i]);
      }
    }
    if (type == "help") {
      run.info = std::string(kMachineHelp);
      return run;
    }
    if (!type.empty()) {  // "-machine accel=kvm" names no machine
      c.machine = parse_machine_name(type);
      machine_named = true;
    }
  }
  if (!p.accel.empty()) {
    // QEMU tries repeated -accel options in order; the first is the one wanted.
    auto props = split(p.accel.front(), ',');
    std::string_view name = props[0];
    if (auto [key, value] = key_value(name); value) {
      if (key != "accel") fail("-accel: expected an accelerator name, got '{}'", name);
      name = *value;
    }
    if (name == "help") {
      run.info = "Accelerators supported in Tandem:\nkvm\ntcg\n";
      return run;
    }
    accel = parse_accel_name(name);
    for (size_t i = 1; i < props.size(); ++i) {
      if (props[i].starts_with("thread=")) continue;  // TCG threading: Tandem decides itself
      fail("-accel: unsupported property '{}'", props[i]);
    }
  }
  if (p.enable_kvm) {
    if (accel && *accel != AccelKind::kKvm) fail("-enable-kvm conflicts with -accel tcg");
    accel = AccelKind::kKvm;
  }
  if (!machine_named) {
    // No machine named: KVM runs only x86-64 guests, so asking for it picks the x86 machine;
    // otherwise the default is the RISC-V virt machine with its Debian guest.
    c.machine = accel == AccelKind::kKvm ? MachineKind::kX86 : MachineKind::kRiscvVirt;
  }
  bool riscv = c.machine == MachineKind::kRiscvVirt;
  if (accel) {
    if (riscv && *accel == AccelKind::kKvm) {
      fail("machine 'virt' runs RISC-V guests, which need -accel tcg (KVM runs x86-64 guests)");
    }
    c.accel = *accel;
  } else {
    c.accel = riscv ? AccelKind::kTcg : AccelKind::kKvm;
  }
  if (p.cpu) {
    std::string_view model = *p.cpu;
    if (model == "help") {
      run.info = riscv ? "Available CPUs:\nrv64\nmax\n" : "Available CPUs:\nhost\nmax\n";
      return run;
    }
    if (model.find(',') != std::string_view::npos) {
      fail("-cpu {}: CPU feature flags are not supported", model);
    }
    bool known = riscv ? (model == "rv64" || model == "max") : (model == "host" || model == "max");
    if (!known) {
      fail("unknown CPU model '{}' (use {})", model, riscv ? "rv64 or max" : "host or max");
    }
  }
  if (p.kernel) c.kernel = *p.kernel;
  if (p.initrd) c.initrd = *p.initrd;
  if (p.append) c.append = *p.append;
  if (p.bios) c.bios = *p.bios;
  if (p.memory) c.memory_bytes = parse_memory_option(*p.memory);
  if (p.cpus && p.smp) fail("give the CPU count once: --cpus or -smp");
  if (p.cpus) c.cpus = parse_cpu_count(*p.cpus, "--cpus");
  if (p.smp) c.cpus = parse_smp(*p.smp);
  DeviceOptions devices(c);
  for (const auto& spec : p.chardev) {
    run.info = devices.add_chardev(spec);
    if (!run.info.empty()) return run;
  }
  for (const auto& spec : p.drive) devices.add_drive(spec);
  for (const auto& s : p.serial) c.serials.push_back(parse_serial(s, devices));
  for (const auto& d : p.display) {
    if (d != "none") {
      fail("-display {}: Tandem has no graphical display (use -display none or -nographic)", d);
    }
  }
  c.nodefaults = p.nodefaults;
  if (p.async_teardown) c.async_teardown = true;
  for (const auto& spec : p.run_with) {
    for (const std::string& prop : split_option_list(spec)) {
      auto [key, value] = key_value(prop);
      if (key != "async-teardown") {
        fail("-run-with: unsupported property '{}' (Tandem has async-teardown=on|off)", prop);
      }
      if (value != "on" && value != "off") fail("-run-with: async-teardown takes on or off");
      c.async_teardown = *value == "on";
    }
  }
  for (const auto& d : p.device) {
    apply_device(d, c, devices, run.info);
    if (!run.info.empty()) return run;
  }
  devices.finish();
  if (p.log) {
    static constexpr std::string_view kLevels[] = {"trace", "debug", "info",
                                                   "warn",  "error", "off"};
    if (std::find(std::begin(kLevels), std::end(kLevels), *p.log) == std::end(kLevels)) {
      fail("unknown log level '{}' (use trace, debug, info, warn, error or off)", *p.log);
    }
    c.log_level = *p.log;
  }
  return run;
}

}  // namespace tandem::cli
