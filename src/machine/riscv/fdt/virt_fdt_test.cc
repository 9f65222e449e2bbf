#include "machine/riscv/fdt/virt_fdt.h"

#include <gtest/gtest.h>
#include <libfdt.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>

#include "base/error.h"

namespace tandem::riscv {
namespace {

class Blob {
 public:
  explicit Blob(std::vector<uint8_t> b) : blob_(std::move(b)) {}
  const void* fdt() const { return blob_.data(); }
  int node(const std::string& path) const {
    int off = fdt_path_offset(fdt(), path.c_str());
    EXPECT_GE(off, 0) << path;
    return off;
  }
  std::string str(const std::string& path, const char* name) const {
    int len = 0;
    auto* p = static_cast<const char*>(fdt_getprop(fdt(), node(path), name, &len));
    if (!p || len < 1) return "<missing>";
    return std::string(p, len - 1);
  }
  std::vector<std::string> strs(const std::string& path, const char* name) const {
    int len = 0;
    auto* p = static_cast<const char*>(fdt_getprop(fdt(), node(path), name, &len));
    std::vector<std::string> out;
    for (int i = 0; p && i < len;) {
      out.emplace_back(p + i);
      i += static_cast<int>(out.back().size()) + 1;
    }
    return out;
  }
  std::vector<uint32_t> cells(const std::string& path, const char* name) const {
    int len = 0;
    auto* p = static_cast<const fdt32_t*>(fdt_getprop(fdt(), node(path), name, &len));
    std::vector<uint32_t> out;
    for (int i = 0; p && i < len / 4; ++i) out.push_back(fdt32_to_cpu(p[i]));
    return out;
  }
  bool has(const std::string& path, const char* name) const {
    return fdt_getprop(fdt(), node(path), name, nullptr) != nullptr;
  }
  uint32_t phandle_of(const std::string& path) const { return fdt_get_phandle(fdt(), node(path)); }
  const std::vector<uint8_t>& bytes() const { return blob_; }

 private:
  std::vector<uint8_t> blob_;
};

VirtFdtConfig two_harts() {
  VirtFdtConfig c;
  c.num_harts = 2;
  c.ram_size = 1ull << 30;
  c.bootargs = "console=ttyS0 earlycon=sbi";
  c.initrd = {{0x88000000, 0x88123456}};
  c.rng_seed = {1, 2, 3, 4};
  return c;
}

TEST(VirtFdt, HeaderIsValid) {
  Blob b(build_virt_fdt(two_harts()));
  EXPECT_EQ(fdt_check_header(b.fdt()), 0);
  EXPECT_EQ(fdt_totalsize(b.fdt()), b.bytes().size());
  EXPECT_EQ(b.str("/", "compatible"), "riscv-virtio");
  EXPECT_EQ(b.cells("/", "#address-cells"), std::vector<uint32_t>{2});
}

TEST(VirtFdt, MemoryAndChosen) {
  Blob b(build_virt_fdt(two_harts()));
  EXPECT_EQ(b.str("/memory@80000000", "device_type"), "memory");
  EXPECT_EQ(b.cells("/memory@80000000", "reg"),
            (std::vector<uint32_t>{0, 0x80000000, 0, 0x40000000}));
  EXPECT_EQ(b.str("/chosen", "bootargs"), "console=ttyS0 earlycon=sbi");
  EXPECT_EQ(b.str("/chosen", "stdout-path"), "/soc/serial@10000000");
  EXPECT_EQ(b.cells("/chosen", "linux,initrd-start"), (std::vector<uint32_t>{0, 0x88000000}));
  EXPECT_EQ(b.cells("/chosen", "linux,initrd-end"), (std::vector<uint32_t>{0, 0x88123456}));
  EXPECT_EQ(b.cells("/chosen", "rng-seed"), std::vector<uint32_t>{0x01020304});
  EXPECT_EQ(b.str("/aliases", "serial0"), "/soc/serial@10000000");
}

TEST(VirtFdt, NoInitrdNoBootargs) {
  VirtFdtConfig c;
  Blob b(build_virt_fdt(c));
  EXPECT_FALSE(b.has("/chosen", "linux,initrd-start"));
  EXPECT_FALSE(b.has("/chosen", "bootargs"));
  EXPECT_FALSE(b.has("/chosen", "rng-seed"));
  EXPECT_GE(b.node("/cpus/cpu@0"), 0);
  EXPECT_LT(fdt_path_offset(b.fdt(), "/cpus/cpu@1"), 0);
}

TEST(VirtFdt, CpusWithIsaAndInterruptControllers) {
  Blob b(build_virt_fdt(two_harts()));
  EXPECT_EQ(b.cells("/cpus", "timebase-frequency"), std::vector<uint32_t>{10000000});
  for (unsigned h = 0; h < 2; ++h) {
    std::string cpu = "/cpus/cpu@" + std::to_string(h);
    EXPECT_EQ(b.str(cpu, "device_type"), "cpu");
    EXPECT_EQ(b.cells(cpu, "reg"), std::vector<uint32_t>{h});
    EXPECT_EQ(b.str(cpu, "compatible"), "riscv");
    EXPECT_EQ(b.str(cpu, "status"), "okay");
    EXPECT_EQ(b.str(cpu, "riscv,isa"), "rv64imafdc_zicntr_zicsr_zifencei_zba_zbb");
    EXPECT_EQ(b.str(cpu, "riscv,isa-base"), "rv64i");
    EXPECT_EQ(b.strs(cpu, "riscv,isa-extensions"),
              (std::vector<std::string>{"i", "m", "a", "f", "d", "c", "zicntr", "zicsr", "zifencei",
                                        "zba", "zbb"}));
    EXPECT_EQ(b.str(cpu, "mmu-type"), "riscv,sv48");
    std::string intc = cpu + "/interrupt-controller";
    EXPECT_EQ(b.str(intc, "compatible"), "riscv,cpu-intc");
    EXPECT_TRUE(b.has(intc, "interrupt-controller"));
    EXPECT_EQ(b.cells(intc, "#interrupt-cells"), std::vector<uint32_t>{1});
    EXPECT_NE(b.phandle_of(intc), 0u);
    EXPECT_EQ(b.cells("/cpus/cpu-map/cluster0/core" + std::to_string(h), "cpu"),
              std::vector<uint32_t>{b.phandle_of(cpu)});
  }
}

TEST(VirtFdt, ClintAndPlicWireEachHart) {
  Blob b(build_virt_fdt(two_harts()));
  uint32_t i0 = b.phandle_of("/cpus/cpu@0/interrupt-controller");
  uint32_t i1 = b.phandle_of("/cpus/cpu@1/interrupt-controller");
  ASSERT_NE(i0, i1);
  EXPECT_EQ(b.strs("/soc/clint@2000000", "compatible"),
            (std::vector<std::string>{"sifive,clint0", "riscv,clint0"}));
  EXPECT_EQ(b.cells("/soc/clint@2000000", "reg"),
            (std::vector<uint32_t>{0, 0x2000000, 0, 0x10000}));
  EXPECT_EQ(b.cells("/soc/clint@2000000", "interrupts-extended"),
            (std::vector<uint32_t>{i0, 3, i0, 7, i1, 3, i1, 7}));

  const std::string plic = "/soc/plic@c000000";
  EXPECT_EQ(b.strs(plic, "compatible"),
            (std::vector<std::string>{"sifive,plic-1.0.0", "riscv,plic0"}));
  EXPECT_EQ(b.cells(plic, "reg"), (std::vector<uint32_t>{0, 0xc000000, 0, 0x600000}));
  EXPECT_EQ(b.cells(plic, "riscv,ndev"), std::vector<uint32_t>{95});
  EXPECT_EQ(b.cells(plic, "interrupts-extended"),
            (std::vector<uint32_t>{i0, 11, i0, 9, i1, 11, i1, 9}));
  EXPECT_TRUE(b.has(plic, "interrupt-controller"));
  EXPECT_EQ(b.cells(plic, "#interrupt-cells"), std::vector<uint32_t>{1});
}

TEST(VirtFdt, DevicesOnThePlic) {
  Blob b(build_virt_fdt(two_harts()));
  uint32_t plic = b.phandle_of("/soc/plic@c000000");
  ASSERT_NE(plic, 0u);
  const std::string uart = "/soc/serial@10000000";
  EXPECT_EQ(b.str(uart, "compatible"), "ns16550a");
  EXPECT_EQ(b.cells(uart, "clock-frequency"), std::vector<uint32_t>{3686400});
  EXPECT_EQ(b.cells(uart, "interrupts"), std::vector<uint32_t>{10});
  EXPECT_EQ(b.cells(uart, "interrupt-parent"), std::vector<uint32_t>{plic});
  EXPECT_EQ(b.cells(uart, "reg"), (std::vector<uint32_t>{0, 0x10000000, 0, 0x100}));

  for (unsigned i = 0; i < 8; ++i) {
    std::string v = fmt::format("/soc/virtio_mmio@{:x}", 0x10001000 + i * 0x1000);
    EXPECT_EQ(b.str(v, "compatible"), "virtio,mmio");
    EXPECT_EQ(b.cells(v, "interrupts"), std::vector<uint32_t>{1 + i});
    EXPECT_EQ(b.cells(v, "interrupt-parent"), std::vector<uint32_t>{plic});
    EXPECT_EQ(b.cells(v, "reg"), (std::vector<uint32_t>{0, 0x10001000 + i * 0x1000, 0, 0x1000}));
  }
  EXPECT_LT(fdt_path_offset(b.fdt(), "/soc/virtio_mmio@10009000"), 0);

  EXPECT_EQ(b.str("/soc/rtc@101000", "compatible"), "google,goldfish-rtc");
  EXPECT_EQ(b.cells("/soc/rtc@101000", "interrupts"), std::vector<uint32_t>{11});
  EXPECT_EQ(b.cells("/soc/rtc@101000", "reg"), (std::vector<uint32_t>{0, 0x101000, 0, 0x1000}));
}

// QEMU's order: the slots from the highest address down, so that Linux (which probes in tree
// order) meets the first device of the command line, which sits in the highest slot, first.
TEST(VirtFdt, VirtioSlotsHighestFirstAsQemu) {
  Blob b(build_virt_fdt(two_harts()));
  std::vector<uint64_t> order;
  const int soc = b.node("/soc");
  int child;
  fdt_for_each_subnode(child, b.fdt(), soc) {
    std::string name = fdt_get_name(b.fdt(), child, nullptr);
    if (name.starts_with("virtio_mmio@"))
      order.push_back(std::stoull(name.substr(12), nullptr, 16));
  }
  EXPECT_EQ(order, (std::vector<uint64_t>{0x10008000, 0x10007000, 0x10006000, 0x10005000,
                                          0x10004000, 0x10003000, 0x10002000, 0x10001000}));
}

TEST(VirtFdt, FewerVirtioSlots) {
  VirtFdtConfig c = two_harts();
  c.virtio_slots = 2;
  Blob b(build_virt_fdt(c));
  EXPECT_EQ(b.cells("/soc/virtio_mmio@10002000", "interrupts"), std::vector<uint32_t>{2});
  EXPECT_GE(b.node("/soc/virtio_mmio@10001000"), 0);
  EXPECT_LT(fdt_path_offset(b.fdt(), "/soc/virtio_mmio@10003000"), 0);
  c.virtio_slots = 0;
  Blob none(build_virt_fdt(c));
  EXPECT_LT(fdt_path_offset(none.fdt(), "/soc/virtio_mmio@10001000"), 0);
}

TEST(VirtFdt, FinisherWithSysconPoweroffAndReboot) {
  Blob b(build_virt_fdt(two_harts()));
  const std::string test = "/soc/test@100000";
  EXPECT_EQ(b.strs(test, "compatible"),
            (std::vector<std::string>{"sifive,test1", "sifive,test0", "syscon"}));
  uint32_t ph = b.phandle_of(test);
  ASSERT_NE(ph, 0u);
  EXPECT_EQ(b.str("/poweroff", "compatible"), "syscon-poweroff");
  EXPECT_EQ(b.cells("/poweroff", "regmap"), std::vector<uint32_t>{ph});
  EXPECT_EQ(b.cells("/poweroff", "value"), std::vector<uint32_t>{0x5555});
  EXPECT_EQ(b.cells("/poweroff", "offset"), std::vector<uint32_t>{0});
  EXPECT_EQ(b.str("/reboot", "compatible"), "syscon-reboot");
  EXPECT_EQ(b.cells("/reboot", "value"), std::vector<uint32_t>{0x7777});
}

TEST(VirtFdt, PhandlesAreUnique) {
  VirtFdtConfig c = two_harts();
  c.num_harts = 4;
  Blob b(build_virt_fdt(c));
  std::vector<uint32_t> seen;
  for (int off = fdt_next_node(b.fdt(), -1, nullptr); off >= 0;
       off = fdt_next_node(b.fdt(), off, nullptr)) {
    uint32_t ph = fdt_get_phandle(b.fdt(), off);
    if (ph == 0) continue;
    for (uint32_t s : seen) EXPECT_NE(s, ph);
    seen.push_back(ph);
  }
  EXPECT_EQ(seen.size(), 4u * 2 + 2);  // cpus, intcs, plic, test
}

TEST(VirtFdt, ParseIsa) {
  IsaParts g = parse_isa("RV64GC_Zba");
  EXPECT_EQ(g.base, "rv64i");
  EXPECT_EQ(g.extensions,
            (std::vector<std::string>{"i", "m", "a", "f", "d", "zicsr", "zifencei", "c", "zba"}));
  IsaParts e = parse_isa("rv32emc");
  EXPECT_EQ(e.base, "rv32e");
  EXPECT_EQ(e.extensions, (std::vector<std::string>{"e", "m", "c"}));
  EXPECT_EQ(parse_isa("rv64izicsr").extensions, (std::vector<std::string>{"i", "zicsr"}));
  EXPECT_THROW(parse_isa("x86"), Error);
  EXPECT_THROW(parse_isa("rv64"), Error);
  EXPECT_THROW(parse_isa("rv64m"), Error);
  EXPECT_THROW(parse_isa("rv64i9"), Error);
}

TEST(VirtFdt, PaddedBlobHasRoomToGrowInPlace) {
  VirtFdtConfig c = two_harts();
  c.min_size = 64 * 1024;
  std::vector<uint8_t> blob = build_virt_fdt(c);
  ASSERT_EQ(blob.size(), 64u * 1024);
  EXPECT_EQ(fdt_check_header(blob.data()), 0);
  EXPECT_EQ(fdt_totalsize(blob.data()), 64u * 1024);
  // What firmware does: add a node in place.
  int soc = fdt_path_offset(blob.data(), "/soc");
  ASSERT_GE(soc, 0);
  EXPECT_GE(fdt_add_subnode(blob.data(), soc, "extra@0"), 0);
  Blob b(blob);
  EXPECT_EQ(b.str("/soc/serial@10000000", "compatible"), "ns16550a");
}

TEST(VirtFdt, BadConfigIsAnError) {
  VirtFdtConfig c;
  c.num_harts = 0;
  EXPECT_THROW(build_virt_fdt(c), Error);
  c = {};
  c.virtio_slots = 9;
  EXPECT_THROW(build_virt_fdt(c), Error);
  c = {};
  c.isa = "bogus";
  EXPECT_THROW(build_virt_fdt(c), Error);
}

// dtc (Debian's device-tree-compiler) must read the blob back without errors and see what
// QEMU's virt machine would describe.
TEST(VirtFdt, DtcDecompilesIt) {
  if (access("/usr/bin/dtc", X_OK) != 0)
    GTEST_FAIL() << "dtc missing: apt-get install device-tree-compiler";
  auto blob = build_virt_fdt(two_harts());
  char path[] = "/tmp/tandem-fdt-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, blob.data(), blob.size()), static_cast<ssize_t>(blob.size()));
  close(fd);
  std::string cmd = std::string("dtc -I dtb -O dts ") + path + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int status = pclose(p);
  unlink(path);
  EXPECT_EQ(status, 0) << out;
  EXPECT_EQ(out.find("ERROR"), std::string::npos) << out;
  EXPECT_EQ(out.find("Warning"), std::string::npos) << out;
  // dtc 1.6 prints string lists with \0 between the strings.
  EXPECT_NE(out.find(R"(compatible = "sifive,plic-1.0.0\0riscv,plic0";)"), std::string::npos)
      << out;
  EXPECT_NE(out.find(R"(compatible = "syscon-poweroff";)"), std::string::npos) << out;
  EXPECT_NE(out.find("riscv,ndev = <0x5f>;"), std::string::npos) << out;
  EXPECT_NE(out.find("timebase-frequency = <0x989680>;"), std::string::npos) << out;
  EXPECT_NE(out.find("bootargs = \"console=ttyS0 earlycon=sbi\";"), std::string::npos) << out;
}

}  // namespace
}  // namespace tandem::riscv
