#include "machine/riscv/virt_machine.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>

#include "base/error.h"
#include "base/file_util.h"
#include "hw/char/char_backend.h"
#include "hw/char/uart16550/uart16550.h"
#include "hw/misc/sifive_test/sifive_test.h"
#include "hw/riscv/aclint/clint.h"
#include "hw/riscv/plic/plic.h"
#include "hw/rtc/goldfish/goldfish_rtc.h"
#include "machine/riscv/fdt/virt_fdt.h"
#include "machine/riscv/virt_memory_map.h"
#include "machine/riscv/virtio_slots.h"

namespace tandem::riscv {
namespace {

constexpr uint64_t kKernelOffset = 0x200000;  // OpenSBI generic fw_jump's FW_JUMP_ADDR
constexpr uint64_t kFdtAlign = 2ull << 20;
constexpr uint64_t kFdtMinSize = 64 << 10;

std::vector<uint8_t> read_file(const std::string& path, const char* what) {
  std::vector<uint8_t> data;
  try {
    data = tandem::read_file(path);
  } catch (const Error&) {
    fail("cannot open {} '{}'", what, path);
  }
  if (data.empty()) fail("{} '{}' is empty", what, path);
  return data;
}

uint64_t le64(const std::vector<uint8_t>& b, size_t off) {
  uint64_t v;
  std::memcpy(&v, b.data() + off, 8);
  return v;
}

// OpenSBI's struct fw_dynamic_info (version 2).
struct FwDynamicInfo {
  uint64_t magic = 0x4942534f;  // "OSBI"
  uint64_t version = 2;
  uint64_t next_addr = 0;
  uint64_t next_mode = 1;  // S mode
  uint64_t options = 0;
  uint64_t boot_hart = 0;
};

}  // namespace

ImageHeader parse_riscv_image(const std::vector<uint8_t>& image, const std::string& path) {
  if (image.size() >= 0x206 && std::memcmp(image.data() + 0x202, "HdrS", 4) == 0) {
    fail("kernel '{}' is an x86 bzImage, not a RISC-V Image", path);
  }
  if (image.size() >= 4 && std::memcmp(image.data(),
                                       "\x7f"
                                       "ELF",
                                       4) == 0) {
    fail(
        "kernel '{}' is an ELF file; the virt machine boots a RISC-V Image (arch/riscv/boot/Image)",
        path);
  }
  if (image.size() < 64 || std::memcmp(image.data() + 56, "RSC\x05", 4) != 0) {
    fail("kernel '{}' is not a RISC-V Linux Image (no \"RSC\\x05\" magic at offset 56)", path);
  }
  ImageHeader h;
  h.text_offset = le64(image, 8);
  h.image_size = le64(image, 16);
  if (h.image_size < image.size()) h.image_size = image.size();
  return h;
}

VirtMachine::VirtMachine(const MachineConfig& config) : config_(config) {
  if (config_.cpus == 0 || config_.cpus > 8) fail("--cpus must be 1..8 for the virt machine");
  if (config_.memory_bytes < (16ull << 20)) fail("the virt machine needs at least 16 MiB of RAM");
  if (config_.memory_bytes > (64ull << 30)) fail("the virt machine supports at most 64 GiB");
  ram_.add_region(virt::kDramBase, config_.memory_bytes);

  PrivEnv env;
  env.read_time = &VirtMachine::read_mtime;
  env.time_ctx = this;
  harts_ =
      std::make_unique<HartGroup>(config_.cpus, ram_, mmio_, env,
                                  HartOptions{.translator = config_.accel != AccelKind::kInterp});
  // DMA into pages holding translated code: dropped at the guest's next fence.i.
  if (tcg::CodePages* pages = harts_->code_pages()) {
    ram_.set_device_write_watcher(
        [pages](uint64_t gpa, uint64_t len) { pages->note_device_write(gpa, len); });
  }

  clint_ = std::make_shared<Clint>(config_.cpus, *harts_);
  mmio_.add(virt::kClint.base, virt::kClint.size, clint_, "clint");
  plic_ = std::make_shared<Plic>(config_.cpus, *harts_);
  mmio_.add(virt::kPlic.base, virt::kPlic.size, plic_, "plic");

  std::vector<SerialConfig> serials = config_.serials;
  if (serials.empty() && !config_.nodefaults) serials.push_back(SerialConfig{});
  if (serials.size() > 1) fail("the virt machine has one UART (got {} -serial)", serials.size());
  {
    // The UART is part of the board, as on QEMU: -serial none or -nodefaults leave it without a
    // host side instead of removing it, so that firmware and kernels using it (the device
    // tree's stdout-path) still run, e.g. with the console on a virtio console (hvc0).
    const std::string spec =
        serials.empty() || serials[0].backend == "none" ? "null" : serials[0].backend;
    auto backend = make_char_backend(spec, io_.loop(), *this);
    Uart16550::Options options;
    options.out2_gates_irq = false;
    mmio_.add(virt::kUart0.base, virt::kUart0.size,
              std::make_shared<Uart16550>(plic_->irq(virt::kUart0Irq), std::move(backend),
                                          io_.loop(), options),
              "uart0");
  }
  auto rtc = std::make_shared<GoldfishRtc>(plic_->irq(virt::kRtcIrq));
  mmio_.add(virt::kRtc.base, virt::kRtc.size, rtc, "goldfish-rtc");
  mmio_.add(virt::kTest.base, virt::kTest.size, std::make_shared<SifiveTest>(*this), "test");
  virtio_ = std::make_unique<VirtioSlots>(config_, ram_, *plic_, io_.loop(), *this, mmio_);

  load_images();
  clint_->attach_timer(io_.loop());
  rtc->attach_timer(io_.loop());
}

VirtMachine::~VirtMachine() {
  io_.stop();
  ram_.set_device_write_watcher(nullptr);  // before the harts (and their CodePages) go
}

uint64_t VirtMachine::read_mtime(void* self) {
  return static_cast<VirtMachine*>(self)->clint_->mtime();
}

void VirtMachine::load_images() {
  const uint64_t base = virt::kDramBase;
  const uint64_t ram_end = base + config_.memory_bytes;
  const bool bare = config_.bios == "none";
  if (config_.bios.empty()) {
    fail(
        "the virt machine needs firmware: --bios fw_jump.bin or fw_dynamic.bin (OpenSBI), "
        "or --bios none with a bare-metal --kernel");
  }
  uint64_t entry = base;
  if (!bare) {
    const auto fw = read_file(config_.bios, "firmware");
    if (fw.size() > kKernelOffset) {
      fail("firmware '{}' is {} bytes; it must fit below the kernel at 0x{:x}", config_.bios,
           fw.size(), base + kKernelOffset);
    }
    ram_.write_or_throw(base, fw);
    layout_.firmware = base;
  }

  if (!config_.kernel.empty()) {
    const auto image = read_file(config_.kernel, "kernel");
    if (bare) {
      if (image.size() > config_.memory_bytes / 2) fail("kernel '{}' is too large", config_.kernel);
      layout_.kernel = base;
      layout_.kernel_end = base + image.size();
    } else {
      const ImageHeader h = parse_riscv_image(image, config_.kernel);
      layout_.kernel = base + (h.text_offset ? h.text_offset : kKernelOffset);
      layout_.kernel_end = layout_.kernel + h.image_size;
    }
    if (layout_.kernel_end > ram_end) {
      fail("kernel '{}' does not fit in {} MiB of RAM", config_.kernel, config_.memory_bytes >> 20);
    }
    ram_.write_or_throw(layout_.kernel, image);
  } else if (bare) {
    fail("--bios none needs a --kernel to run");
  } else {
    layout_.kernel = base + kKernelOffset;
  }

  VirtFdtConfig fdt;
  fdt.ram_base = base;
  fdt.ram_size = config_.memory_bytes;
  fdt.num_harts = config_.cpus;
  fdt.bootargs = config_.append;
  fdt.virtio_slots = virt::kVirtioSlots;  // all of them, as QEMU: empty ones read DeviceID 0
  fdt.min_size = kFdtMinSize;

  std::vector<uint8_t> initrd;
  if (!config_.initrd.empty()) {
    if (config_.kernel.empty()) fail("--initrd needs a --kernel");
    initrd = read_file(config_.initrd, "initrd");
    // As QEMU: far enough above the kernel that its decompression cannot reach it.
    uint64_t start = layout_.kernel + std::min<uint64_t>(config_.memory_bytes / 2, 128ull << 20);
    start = std::max<uint64_t>(start, (layout_.kernel_end + 0xfff) & ~uint64_t{0xfff});
    layout_.initrd = start;
    layout_.initrd_end = start + initrd.size();
    fdt.initrd = std::make_pair(layout_.initrd, layout_.initrd_end);
  }
  const std::vector<uint8_t> blob = build_virt_fdt(fdt);
  const uint64_t top = std::min<uint64_t>(ram_end, 0x100000000ull + 0x40000000ull);
  layout_.fdt = (top - blob.size()) & ~(kFdtAlign - 1);
  layout_.dynamic_info = layout_.fdt - 0x1000;
  if (layout_.initrd_end > layout_.dynamic_info) {
    fail("initrd '{}' ({} bytes) does not fit in {} MiB of RAM", config_.initrd, initrd.size(),
         config_.memory_bytes >> 20);
  }
  if (!initrd.empty()) ram_.write_or_throw(layout_.initrd, initrd);
  ram_.write_or_throw(layout_.fdt, blob);
  FwDynamicInfo info;
  info.next_addr = layout_.kernel;
  ram_.store(layout_.dynamic_info, info);

  for (unsigned i = 0; i < harts_->size(); ++i) {
    SystemHart& h = harts_->hart(i);
    h.cpu.pc = entry;
    h.cpu.x[10] = i;
    h.cpu.x[11] = layout_.fdt;
    h.cpu.x[12] = layout_.dynamic_info;
    h.ps.priv = Priv::kM;
  }
}

void VirtMachine::request_exit(int status) {
  status_.store(status);
  harts_->stop();
}

int VirtMachine::run() {
  harts_->run();
  return status_.load();
}

}  // namespace tandem::riscv
