#include "machine/x86/boot/bzimage.h"

#include <algorithm>

#include "base/error.h"
#include "base/log.h"
#include "machine/x86/boot/boot_layout.h"
#include "machine/x86/boot/cpu_setup.h"
#include "machine/x86/boot/e820.h"
#include "machine/x86/boot/firmware_tables.h"
#include "machine/x86/boot/loader_util.h"

namespace tandem::x86 {
namespace {

// struct boot_params offsets outside the setup header (Documentation/x86/zero-page.rst).
constexpr uint64_t kBootParamsSize = 0x1000;
constexpr uint64_t kAcpiRsdpAddrOffset = 0x070;  // honoured by kernels of protocol 2.14+
constexpr uint64_t kE820EntriesOffset = 0x1e8;
constexpr uint64_t kE820TableOffset = 0x2d0;
constexpr unsigned kE820MaxEntries = 128;
// Setup header fields the loader writes.
constexpr uint64_t kTypeOfLoaderOffset = 0x210;
constexpr uint64_t kCode32StartOffset = 0x214;
constexpr uint64_t kRamdiskImageOffset = 0x218;
constexpr uint64_t kRamdiskSizeOffset = 0x21c;
constexpr uint64_t kCmdLinePtrOffset = 0x228;
constexpr uint64_t kKernelAlignmentOffset = 0x230;
constexpr uint64_t kSetupDataOffset = 0x250;

constexpr uint8_t kLoaderUndefined = 0xff;  // type_of_loader: no assigned boot loader id
constexpr uint64_t k64BitEntryOffset = 0x200;
constexpr uint64_t kMaxKernelAlignment = 1ull << 30;

struct Placement {
  uint64_t load_addr = 0;
  uint64_t alignment = 0;  // what the kernel_alignment field should say
  uint64_t init_end = 0;   // end of [runtime_start, runtime_start + init_size)
};

uint64_t kernel_footprint_end(const SetupHeader& h, uint64_t load, uint64_t runtime_start) {
  return std::max(load + h.kernel_size, runtime_start + h.init_size);
}

// Where the protected-mode kernel goes: pref_address when it and init_size fit in low RAM, else
// (relocatable kernels only) the lowest address above 1 MiB with the largest alignment between
// kernel_alignment and 1 << min_alignment that fits.
Placement choose_placement(const SetupHeader& h, uint64_t low_end, const std::string& path) {
  uint64_t max_align = 0, min_align = 0;
  if (h.relocatable) {
    max_align = h.kernel_alignment;
    if (!is_power_of_two(max_align) || max_align > kMaxKernelAlignment) {
      fail("{}: invalid kernel_alignment {:#x}", path, h.kernel_alignment);
    }
    min_align = max_align;
    if (h.min_alignment != 0) {
      if (h.min_alignment > 30) fail("{}: invalid min_alignment {}", path, h.min_alignment);
      min_align = std::min(max_align, uint64_t{1} << h.min_alignment);
    }
  }
  auto fits = [&](uint64_t load, uint64_t runtime_start) {
    return load >= kHighMemoryStart && runtime_start <= low_end &&
           kernel_footprint_end(h, load, runtime_start) <= low_end;
  };

  uint64_t pref = h.pref_address;
  if (pref <= low_end) {
    if (!h.relocatable) {
      if (fits(pref, pref)) return {pref, h.kernel_alignment, pref + h.init_size};
    } else {
      for (uint64_t a = max_align; a >= min_align; a >>= 1) {
        if (pref % a == 0 && fits(pref, pref)) return {pref, a, pref + h.init_size};
      }
    }
  }
  if (!h.relocatable) {
    fail("{}: kernel is not relocatable and needs [{:#x}, +{:#x}) but low guest RAM ends at {:#x}",
         path, pref, std::max<uint64_t>(h.init_size, h.kernel_size), low_end);
  }
  for (uint64_t a = max_align; a >= min_align; a >>= 1) {
    uint64_t load = align_up(kHighMemoryStart, a);
    if (fits(load, load)) return {load, a, load + h.init_size};
  }
  fail("{}: kernel needs {:#x} bytes (init_size) above 1 MiB but low guest RAM ends at {:#x}", path,
       std::max<uint64_t>(h.init_size, h.kernel_size), low_end);
}

void put_e820(ByteBuilder& params, const GuestRam& ram) {
  auto map = e820_map(ram);
  if (map.size() > kE820MaxEntries) fail("too many guest RAM regions for the e820 table");
  params.put8(kE820EntriesOffset, static_cast<uint8_t>(map.size()));
  for (size_t i = 0; i < map.size(); ++i) {
    size_t at = kE820TableOffset + i * 20;
    params.put64(at, map[i].addr);
    params.put64(at + 8, map[i].size);
    params.put32(at + 16, map[i].type);
  }
}

}  // namespace

bool is_bzimage(ByteView image) {
  return image.starts_with(kHeaderMagicOffset, "HdrS");
}

SetupHeader parse_setup_header(ByteView image, const std::string& path) {
  if (!image.has(0, 0x206) || !is_bzimage(image)) fail("{}: no Linux setup header", path);
  if (image.u16(kBootFlagOffset) != 0xaa55) {
    fail("{}: bad boot_flag {:#06x} in the Linux setup header (expected 0xaa55)", path,
         image.u16(kBootFlagOffset));
  }
  SetupHeader h;
  h.version = image.u16(0x206);
  if (h.version < kMinProtocol) {
    fail("{}: Linux boot protocol {}.{:02} is too old; 2.06 or newer is required", path,
         h.version >> 8, h.version & 0xff);
  }
  h.header_end = 0x202 + uint64_t{image.u8(0x201)};
  h.setup_sects = image.u8(kSetupSectsOffset);
  h.setup_size = (uint64_t{h.setup_sects == 0 ? 4u : h.setup_sects} + 1) * 512;
  if (h.setup_size >= image.size()) {
    fail("{}: setup_sects ({}) puts the kernel beyond the end of the file ({} bytes)", path,
         h.setup_sects, image.size());
  }
  if (h.header_end > h.setup_size || !image.has(0, h.header_end)) {
    fail("{}: setup header ends at {:#x}, beyond the setup code", path, h.header_end);
  }
  // Fields the protocol version guarantees but the header's own length does not: read them only
  // if the header covers them.
  auto field = [&](uint64_t offset, unsigned size) -> uint64_t {
    if (offset + size > h.header_end) return 0;
    return size == 1   ? image.u8(offset)
           : size == 2 ? image.u16(offset)
           : size == 4 ? image.u32(offset)
                       : image.u64(offset);
  };
  h.loadflags = static_cast<uint8_t>(field(0x211, 1));
  h.initrd_addr_max = static_cast<uint32_t>(field(0x22c, 4));
  h.kernel_alignment = static_cast<uint32_t>(field(0x230, 4));
  h.relocatable = field(0x234, 1) != 0;
  h.cmdline_size = static_cast<uint32_t>(field(0x238, 4));
  if (h.version >= 0x20a) {
    h.min_alignment = static_cast<uint8_t>(field(0x235, 1));
    h.pref_address = field(0x258, 8);
    h.init_size = static_cast<uint32_t>(field(0x260, 4));
  } else {
    h.pref_address = kHighMemoryStart;
  }
  if (h.version >= kProtocolWithXloadflags) h.xloadflags = static_cast<uint16_t>(field(0x236, 2));

  if (!(h.loadflags & kLoadedHigh)) {
    fail("{}: zImage kernels (loaded below 1 MiB) are not supported; build a bzImage", path);
  }
  if (!(h.xloadflags & kXlfKernel64)) {
    fail(
        "{}: kernel has no 64-bit entry point (XLF_KERNEL_64 not set; boot protocol {}.{:02}, "
        "2.12+ with a 64-bit kernel is required)",
        path, h.version >> 8, h.version & 0xff);
  }
  uint64_t rest = image.size() - h.setup_size;
  uint64_t syssize = image.u32(0x1f4);
  h.kernel_size = syssize == 0 ? rest : syssize * 16;
  if (h.kernel_size > rest) {
    fail("{}: truncated: syssize says the kernel has {} bytes but only {} follow the setup code",
         path, h.kernel_size, rest);
  }
  return h;
}

BootResult load_bzimage(GuestRam& ram, const BootRequest& req, ByteView image) {
  const std::string& path = req.kernel_path;
  SetupHeader h = parse_setup_header(image, path);
  uint64_t low_end = low_ram_end(ram);
  Placement place = choose_placement(h, low_end, path);

  if (req.cmdline.size() > h.cmdline_size) {
    fail("kernel command line is {} bytes but {} accepts at most {} (cmdline_size)",
         req.cmdline.size(), path, h.cmdline_size);
  }

  ByteBuilder params(kBootParamsSize);
  params.put_bytes(kSetupSectsOffset,
                   image.span().subspan(kSetupSectsOffset, h.header_end - kSetupSectsOffset));
  params.put8(kTypeOfLoaderOffset, kLoaderUndefined);
  params.put32(kCode32StartOffset, static_cast<uint32_t>(place.load_addr));
  if (h.relocatable) params.put32(kKernelAlignmentOffset, static_cast<uint32_t>(place.alignment));
  params.put64(kSetupDataOffset, 0);  // the image's own value is not a pointer we made
  put_e820(params, ram);
  // The machine always writes its ACPI tables (write_firmware_tables) with the RSDP here; telling
  // the kernel spares it the scan of the BIOS area.
  params.put64(kAcpiRsdpAddrOffset, kRsdpAddress);

  StringArea strings(ram);
  params.put32(kCmdLinePtrOffset, static_cast<uint32_t>(strings.put(req.cmdline, "command line")));

  check_load_range(ram, place.load_addr, h.kernel_size, "kernel");
  write_guest(ram, place.load_addr,
              {image.data() + h.setup_size, image.data() + h.setup_size + h.kernel_size});

  if (!req.initrd_path.empty()) {
    HostFile initrd = open_host_file(req.initrd_path);
    // initrd_addr_max is the highest byte the initrd may occupy; ramdisk_image is 32-bit.
    uint64_t ceiling = std::min({uint64_t{h.initrd_addr_max} + 1, low_end, uint64_t{1} << 32});
    uint64_t floor = std::max(place.init_end, place.load_addr + h.kernel_size);
    std::string what = "initrd " + req.initrd_path;
    uint64_t at = place_high(initrd.size, floor, ceiling, kPageSize, what.c_str());
    check_load_range(ram, at, initrd.size, "initrd");
    load_host_file(ram, initrd, at);
    params.put32(kRamdiskImageOffset, static_cast<uint32_t>(at));
    params.put32(kRamdiskSizeOffset, static_cast<uint32_t>(initrd.size));
    TLOG_DEBUG("initrd {} at {:#x} ({} bytes)", req.initrd_path, at, initrd.size);
  }
  write_guest(ram, kBootInfoAddr, params.bytes());
  TLOG_DEBUG("bzImage {}: protocol {:#x}, kernel at {:#x} ({} bytes), init_size {:#x}", path,
             h.version, place.load_addr, h.kernel_size, h.init_size);

  BootResult result;
  result.format = "bzImage";
  result.bsp = long_mode_entry(ram, place.load_addr + k64BitEntryOffset);
  result.bsp.rsi = kBootInfoAddr;
  return result;
}

}  // namespace tandem::x86
