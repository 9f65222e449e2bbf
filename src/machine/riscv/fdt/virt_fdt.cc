#include "machine/riscv/fdt/virt_fdt.h"

#include <libfdt.h>

#include <cctype>

#include "base/error.h"
#include "hw/riscv/hart_irq.h"
#include "machine/riscv/virt_memory_map.h"

namespace tandem::riscv {

namespace {

// libfdt's sequential-write API with errors turned into exceptions.
class FdtWriter {
 public:
  explicit FdtWriter(size_t capacity) : buf_(capacity) {
    check(fdt_create(buf_.data(), static_cast<int>(buf_.size())), "create");
    check(fdt_finish_reservemap(buf_.data()), "finish_reservemap");
  }
  void begin(const std::string& name) { check(fdt_begin_node(buf_.data(), name.c_str()), name); }
  void end() { check(fdt_end_node(buf_.data()), "end_node"); }
  void prop(const char* name, const void* data, size_t len) {
    check(fdt_property(buf_.data(), name, data, static_cast<int>(len)), name);
  }
  void empty(const char* name) { prop(name, nullptr, 0); }
  void u32(const char* name, uint32_t v) { check(fdt_property_u32(buf_.data(), name, v), name); }
  void u64(const char* name, uint64_t v) { check(fdt_property_u64(buf_.data(), name, v), name); }
  void cells(const char* name, const std::vector<uint32_t>& v) {
    std::vector<fdt32_t> be;
    for (uint32_t c : v) be.push_back(cpu_to_fdt32(c));
    prop(name, be.data(), be.size() * sizeof(fdt32_t));
  }
  // reg = <addr-hi addr-lo size-hi size-lo> for #address-cells = #size-cells = 2.
  void reg64(uint64_t base, uint64_t size) {
    cells("reg", {hi(base), lo(base), hi(size), lo(size)});
  }
  void str(const char* name, const std::string& v) { prop(name, v.c_str(), v.size() + 1); }
  void strs(const char* name, const std::vector<std::string>& v) {
    std::string joined;
    for (const auto& s : v) joined.append(s).push_back('\0');
    prop(name, joined.data(), joined.size());
  }
  std::vector<uint8_t> finish() {
    check(fdt_finish(buf_.data()), "finish");
    const auto* p = reinterpret_cast<const uint8_t*>(buf_.data());
    return {p, p + fdt_totalsize(buf_.data())};
  }

  static uint32_t hi(uint64_t v) { return static_cast<uint32_t>(v >> 32); }
  static uint32_t lo(uint64_t v) { return static_cast<uint32_t>(v); }

 private:
  static void check(int err, const std::string& what) {
    if (err < 0) fail("device tree: {}: {}", what, fdt_strerror(err));
  }
  std::vector<char> buf_;
};

std::string hex(uint64_t v) {
  return fmt::format("{:x}", v);
}

}  // namespace

IsaParts parse_isa(const std::string& isa_in) {
  std::string isa;
  for (char c : isa_in)
    isa.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (isa.size() < 5 || (isa.compare(0, 4, "rv64") != 0 && isa.compare(0, 4, "rv32") != 0))
    fail("ISA string '{}' does not start with rv32 or rv64", isa_in);
  IsaParts parts;
  size_t i = 4;
  char first = isa[i];
  if (first != 'i' && first != 'e' && first != 'g')
    fail("ISA string '{}' has no base (i, e or g after {})", isa_in, isa.substr(0, 4));
  parts.base = isa.substr(0, 4) + (first == 'e' ? "e" : "i");
  auto add = [&](const std::string& ext) {
    for (const auto& e : parts.extensions)
      if (e == ext) return;
    parts.extensions.push_back(ext);
  };
  // Single-letter extensions up to the first '_' (or a multi-letter one without '_').
  for (; i < isa.size() && isa[i] != '_'; ++i) {
    char c = isa[i];
    if (c == 'g') {
      for (const char* e : {"i", "m", "a", "f", "d", "zicsr", "zifencei"}) add(e);
    } else if (c == 'z' || c == 's' || c == 'x') {
      break;  // a multi-letter extension follows directly
    } else if (std::isalpha(static_cast<unsigned char>(c))) {
      add(std::string(1, c));
    } else {
      fail("ISA string '{}' has an unexpected '{}'", isa_in, c);
    }
  }
  while (i < isa.size()) {
    if (isa[i] == '_') {
      ++i;
      continue;
    }
    size_t end = isa.find('_', i);
    if (end == std::string::npos) end = isa.size();
    add(isa.substr(i, end - i));
    i = end;
  }
  return parts;
}

std::vector<uint8_t> build_virt_fdt(const VirtFdtConfig& c) {
  if (c.num_harts == 0 || c.num_harts > 512)
    fail("device tree: {} harts is out of range", c.num_harts);
  if (c.virtio_slots > virt::kVirtioSlots)
    fail("device tree: {} virtio slots (at most {})", c.virtio_slots, virt::kVirtioSlots);
  if (c.ram_size == 0) fail("device tree: no RAM");
  IsaParts isa = parse_isa(c.isa);

  // Phandles: each hart's interrupt controller, then each cpu node, then PLIC and finisher.
  auto intc_ph = [&](unsigned h) { return 1 + h; };
  auto cpu_ph = [&](unsigned h) { return 1 + c.num_harts + h; };
  const uint32_t plic_ph = 1 + 2 * c.num_harts;
  const uint32_t test_ph = plic_ph + 1;

  FdtWriter w(16384 + 1024 * size_t{c.num_harts} + c.bootargs.size() + c.rng_seed.size());
  w.begin("");
  w.u32("#address-cells", 2);
  w.u32("#size-cells", 2);
  w.str("compatible", "riscv-virtio");
  w.str("model", "riscv-virtio,qemu");

  w.begin("chosen");
  if (!c.bootargs.empty()) w.str("bootargs", c.bootargs);
  w.str("stdout-path", c.stdout_path);
  if (c.initrd) {
    w.u64("linux,initrd-start", c.initrd->first);
    w.u64("linux,initrd-end", c.initrd->second);
  }
  if (!c.rng_seed.empty()) w.prop("rng-seed", c.rng_seed.data(), c.rng_seed.size());
  w.end();

  w.begin("aliases");
  w.str("serial0", "/soc/serial@" + hex(virt::kUart0.base));
  w.end();

  w.begin("memory@" + hex(c.ram_base));
  w.str("device_type", "memory");
  w.reg64(c.ram_base, c.ram_size);
  w.end();

  w.begin("cpus");
  w.u32("#address-cells", 1);
  w.u32("#size-cells", 0);
  w.u32("timebase-frequency", static_cast<uint32_t>(virt::kTimebaseHz));
  for (unsigned h = 0; h < c.num_harts; ++h) {
    w.begin("cpu@" + hex(h));
    w.u32("phandle", cpu_ph(h));
    w.str("device_type", "cpu");
    w.u32("reg", h);
    w.str("status", "okay");
    w.str("compatible", "riscv");
    w.str("riscv,isa", c.isa);
    w.str("riscv,isa-base", isa.base);
    w.strs("riscv,isa-extensions", isa.extensions);
    w.str("mmu-type", c.mmu_type);
    w.begin("interrupt-controller");
    w.u32("#address-cells", 0);  // dtc wants it on every interrupt provider
    w.u32("#interrupt-cells", 1);
    w.empty("interrupt-controller");
    w.str("compatible", "riscv,cpu-intc");
    w.u32("phandle", intc_ph(h));
    w.end();
    w.end();
  }
  w.begin("cpu-map");
  w.begin("cluster0");
  for (unsigned h = 0; h < c.num_harts; ++h) {
    w.begin("core" + std::to_string(h));
    w.u32("cpu", cpu_ph(h));
    w.end();
  }
  w.end();
  w.end();
  w.end();  // cpus

  // Linux's syscon-poweroff/-reboot drivers write these values to the finisher.
  w.begin("poweroff");
  w.u32("value", 0x5555);
  w.u32("offset", 0);
  w.u32("regmap", test_ph);
  w.str("compatible", "syscon-poweroff");
  w.end();
  w.begin("reboot");
  w.u32("value", 0x7777);
  w.u32("offset", 0);
  w.u32("regmap", test_ph);
  w.str("compatible", "syscon-reboot");
  w.end();

  w.begin("soc");
  w.u32("#address-cells", 2);
  w.u32("#size-cells", 2);
  w.str("compatible", "simple-bus");
  w.empty("ranges");

  w.begin("rtc@" + hex(virt::kRtc.base));
  w.u32("interrupts", virt::kRtcIrq);
  w.u32("interrupt-parent", plic_ph);
  w.reg64(virt::kRtc.base, virt::kRtc.size);
  w.str("compatible", "google,goldfish-rtc");
  w.end();

  w.begin("serial@" + hex(virt::kUart0.base));
  w.u32("interrupts", virt::kUart0Irq);
  w.u32("interrupt-parent", plic_ph);
  w.u32("clock-frequency", virt::kUartClockHz);
  w.reg64(virt::kUart0.base, virt::kUart0.size);
  w.str("compatible", "ns16550a");
  w.end();

  w.begin("test@" + hex(virt::kTest.base));
  w.u32("phandle", test_ph);
  w.reg64(virt::kTest.base, virt::kTest.size);
  w.strs("compatible", {"sifive,test1", "sifive,test0", "syscon"});
  w.end();

  // Highest slot first, as in QEMU's tree: Linux probes in tree order, and the machine puts
  // the first virtio device of the command line in the highest slot, so that one comes first
  // (the first disk is vda).
  for (unsigned i = c.virtio_slots; i-- > 0;) {
    w.begin("virtio_mmio@" + hex(virt::virtio_base(i)));
    w.u32("interrupts", virt::virtio_irq(i));
    w.u32("interrupt-parent", plic_ph);
    w.reg64(virt::virtio_base(i), virt::kVirtio0.size);
    w.str("compatible", "virtio,mmio");
    w.end();
  }

  std::vector<uint32_t> plic_irqs, clint_irqs;
  for (unsigned h = 0; h < c.num_harts; ++h) {
    plic_irqs.insert(plic_irqs.end(), {intc_ph(h), kMipMeip, intc_ph(h), kMipSeip});
    clint_irqs.insert(clint_irqs.end(), {intc_ph(h), kMipMsip, intc_ph(h), kMipMtip});
  }
  w.begin("plic@" + hex(virt::kPlic.base));
  w.u32("phandle", plic_ph);
  w.u32("riscv,ndev", virt::kPlicNumSources - 1);
  w.reg64(virt::kPlic.base, virt::kPlic.size);
  w.cells("interrupts-extended", plic_irqs);
  w.empty("interrupt-controller");
  w.strs("compatible", {"sifive,plic-1.0.0", "riscv,plic0"});
  w.u32("#address-cells", 0);
  w.u32("#interrupt-cells", 1);
  w.end();

  w.begin("clint@" + hex(virt::kClint.base));
  w.cells("interrupts-extended", clint_irqs);
  w.reg64(virt::kClint.base, virt::kClint.size);
  w.strs("compatible", {"sifive,clint0", "riscv,clint0"});
  w.end();

  w.end();  // soc
  w.end();  // root
  std::vector<uint8_t> blob = w.finish();
  if (c.min_size > blob.size()) {
    if (c.min_size > (64u << 20)) fail("device tree: {} bytes of padding is too much", c.min_size);
    blob.resize(c.min_size);
    int err = fdt_open_into(blob.data(), blob.data(), static_cast<int>(blob.size()));
    if (err < 0) fail("device tree: padding: {}", fdt_strerror(err));
  }
  return blob;
}

}  // namespace tandem::riscv
