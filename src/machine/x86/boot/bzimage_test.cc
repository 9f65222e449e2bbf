#include "machine/x86/boot/bzimage.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/error.h"
#include "machine/x86/boot/boot_layout.h"
#include "machine/x86/boot/boot_test_util.h"
#include "machine/x86/boot/loader.h"

namespace tandem::x86 {
namespace {

using testing::BzImageSpec;
using ::testing::HasSubstr;
using testing::make_bzimage;
using testing::make_ram;
using testing::read_guest;
using testing::read_guest_string;
using testing::TempDir;
using ::testing::ThrowsMessage;

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kGiB = 1ull << 30;
constexpr uint64_t kZeroPage = 0x7000;

struct Loaded {
  std::unique_ptr<GuestRam> ram;
  BootResult result;
};

class BzImageTest : public ::testing::Test {
 protected:
  Loaded load(const BzImageSpec& spec, uint64_t mem = 512 * kMiB, std::string cmdline = "",
              std::vector<uint8_t> initrd = {}) {
    BootRequest req;
    req.kernel_path = dir_.write("bzImage", make_bzimage(spec));
    if (!initrd.empty()) req.initrd_path = dir_.write("initrd", initrd);
    req.cmdline = std::move(cmdline);
    Loaded l;
    l.ram = make_ram(mem);
    l.result = load_kernel(*l.ram, req);
    return l;
  }
  auto load_fn(const BzImageSpec& spec, uint64_t mem = 512 * kMiB, std::string cmdline = "",
               std::vector<uint8_t> initrd = {}) {
    return [=, this] { load(spec, mem, cmdline, initrd); };
  }
  TempDir dir_;
};

TEST_F(BzImageTest, CopiesSetupHeaderAndSetsLoaderFields) {
  BzImageSpec spec;
  auto image = make_bzimage(spec);
  Loaded l = load(spec, 512 * kMiB, "console=ttyS0 quiet");
  const GuestRam& ram = *l.ram;
  EXPECT_EQ(l.result.format, "bzImage");

  auto params = read_guest(ram, kZeroPage, 0x1000);
  // Everything before the header is zero apart from the e820 count and the RSDP address.
  for (size_t i = 0; i < 0x1f1; ++i) {
    if (i != 0x1e8 && (i < 0x070 || i >= 0x078)) {
      ASSERT_EQ(params[i], 0) << "offset " << i;
    }
  }
  // The setup header is the image's, except for the fields a loader writes.
  for (size_t i = 0x1f1; i < 0x26c; ++i) {
    bool written = (i == 0x210) || (i >= 0x214 && i < 0x220) || (i >= 0x228 && i < 0x22c) ||
                   (i >= 0x230 && i < 0x234) || (i >= 0x250 && i < 0x258);
    if (!written) {
      ASSERT_EQ(params[i], image[i]) << "offset " << std::hex << i;
    }
  }
  // Nothing past the end of the header (0x202 + byte at 0x201) is copied.
  EXPECT_EQ(ram.load<uint32_t>(kZeroPage + 0x26c), 0u);
  EXPECT_EQ(ram.load<uint16_t>(kZeroPage + 0x206), 0x20f);
  EXPECT_EQ(ram.load<uint8_t>(kZeroPage + 0x210), 0xff);                // type_of_loader
  EXPECT_EQ(ram.load<uint64_t>(kZeroPage + 0x070), 0xe0000u);            // acpi_rsdp_addr
  EXPECT_EQ(ram.load<uint32_t>(kZeroPage + 0x214), spec.pref_address);  // code32_start
  EXPECT_EQ(ram.load<uint64_t>(kZeroPage + 0x250), 0u);                 // setup_data cleared
  EXPECT_EQ(ram.load<uint32_t>(kZeroPage + 0x218), 0u);                 // no initrd
  EXPECT_EQ(ram.load<uint32_t>(kZeroPage + 0x21c), 0u);

  uint32_t cmdline_ptr = ram.load<uint32_t>(kZeroPage + 0x228);
  EXPECT_EQ(cmdline_ptr, kStringAreaAddr);
  EXPECT_EQ(read_guest_string(ram, cmdline_ptr), "console=ttyS0 quiet");

  // The protected-mode kernel is at pref_address.
  uint64_t setup_size = (spec.setup_sects + 1) * 512;
  std::vector<uint8_t> kernel(image.begin() + setup_size, image.end());
  EXPECT_EQ(read_guest(ram, spec.pref_address, kernel.size()), kernel);
}

TEST_F(BzImageTest, EntersLongModeAtLoadAddressPlus0x200) {
  BzImageSpec spec;
  Loaded l = load(spec);
  const EntryState& s = l.result.bsp;
  EXPECT_EQ(s.mode, EntryMode::kLong64);
  EXPECT_EQ(s.rip, spec.pref_address + 0x200);
  EXPECT_EQ(s.rsi, kZeroPage);
  EXPECT_EQ(s.rflags & (1u << 9), 0u);  // IF clear
  EXPECT_EQ(s.cs.selector, 0x10);
  EXPECT_EQ(s.cs.l, 1);
  EXPECT_EQ(s.cs.db, 0);
  for (const Segment* seg : {&s.ds, &s.es, &s.ss}) {
    EXPECT_EQ(seg->selector, 0x18);
    EXPECT_EQ(seg->base, 0u);
    EXPECT_EQ(seg->limit, 0xffffffffu);
    EXPECT_EQ(seg->type & 0x2, 0x2);  // writable
  }
  EXPECT_EQ(s.cr0 & 0x80000001u, 0x80000001u);  // PG | PE
  EXPECT_EQ(s.cr4 & 0x20u, 0x20u);              // PAE
  EXPECT_EQ(s.efer & 0x500u, 0x500u);           // LME | LMA

  // The GDT holds __BOOT_CS (64-bit code) and __BOOT_DS (data) as the registers describe them.
  EXPECT_GE(s.gdt.limit, 0x1f);
  uint64_t cs_desc = l.ram->load<uint64_t>(s.gdt.base + 0x10);
  uint64_t ds_desc = l.ram->load<uint64_t>(s.gdt.base + 0x18);
  EXPECT_EQ((cs_desc >> 40) & 0xff, 0x9bu);  // present, code, exec/read, accessed
  EXPECT_EQ((cs_desc >> 53) & 1, 1u);        // L
  EXPECT_EQ((ds_desc >> 40) & 0xff, 0x93u);  // present, data, read/write, accessed

  // The first 4 GiB are identity-mapped.
  for (uint64_t va : {uint64_t{0}, kZeroPage, spec.pref_address + 0x200, uint64_t{0x12345678},
                      uint64_t{0xfee00000}, 4 * kGiB - 1}) {
    EXPECT_EQ(testing::translate(*l.ram, s.cr3, va), va) << std::hex << va;
  }
}

TEST_F(BzImageTest, E820For512MiB) {
  Loaded l = load(BzImageSpec{});
  const GuestRam& ram = *l.ram;
  ASSERT_EQ(ram.load<uint8_t>(kZeroPage + 0x1e8), 3);
  auto entry = [&](int i, uint64_t addr, uint64_t size, uint32_t type) {
    uint64_t at = kZeroPage + 0x2d0 + i * 20;
    EXPECT_EQ(ram.load<uint64_t>(at), addr) << i;
    EXPECT_EQ(ram.load<uint64_t>(at + 8), size) << i;
    EXPECT_EQ(ram.load<uint32_t>(at + 16), type) << i;
  };
  entry(0, 0, 0x9fc00, 1);
  entry(1, 0x9fc00, 0x100000 - 0x9fc00, 2);
  entry(2, 0x100000, 512 * kMiB - 0x100000, 1);
  EXPECT_EQ(ram.load<uint64_t>(kZeroPage + 0x2d0 + 3 * 20), 0u);
}

TEST_F(BzImageTest, E820AboveFourGiB) {
  Loaded l = load(BzImageSpec{}, 5 * kGiB);
  const GuestRam& ram = *l.ram;
  ASSERT_EQ(ram.load<uint8_t>(kZeroPage + 0x1e8), 4);
  uint64_t at = kZeroPage + 0x2d0 + 2 * 20;
  EXPECT_EQ(ram.load<uint64_t>(at), 0x100000u);
  EXPECT_EQ(ram.load<uint64_t>(at + 8), 3 * kGiB - 0x100000);
  at += 20;
  EXPECT_EQ(ram.load<uint64_t>(at), 4 * kGiB);
  EXPECT_EQ(ram.load<uint64_t>(at + 8), 2 * kGiB);
  EXPECT_EQ(ram.load<uint32_t>(at + 16), 1u);
}

TEST_F(BzImageTest, CommandLineLimitIsCmdlineSize) {
  BzImageSpec spec;
  spec.cmdline_size = 16;
  Loaded l = load(spec, 512 * kMiB, std::string(16, 'x'));
  EXPECT_EQ(read_guest_string(*l.ram, l.ram->load<uint32_t>(kZeroPage + 0x228)),
            std::string(16, 'x'));
  EXPECT_THAT(load_fn(spec, 512 * kMiB, std::string(17, 'x')),
              ThrowsMessage<Error>(HasSubstr("at most 16 (cmdline_size)")));
}

TEST_F(BzImageTest, InitrdHighestPageBelowInitrdAddrMax) {
  BzImageSpec spec;
  spec.initrd_addr_max = 0x0fffffff;
  auto initrd = testing::pattern(5000, 0x33);
  Loaded l = load(spec, 512 * kMiB, "", initrd);
  uint32_t image = l.ram->load<uint32_t>(kZeroPage + 0x218);
  uint32_t size = l.ram->load<uint32_t>(kZeroPage + 0x21c);
  EXPECT_EQ(size, 5000u);
  EXPECT_EQ(image % 4096, 0u);
  EXPECT_LE(uint64_t{image} + size - 1, spec.initrd_addr_max);
  EXPECT_EQ(image, (0x10000000 - 5000) & ~0xfffu);  // as high as possible
  EXPECT_EQ(read_guest(*l.ram, image, size), initrd);
}

TEST_F(BzImageTest, InitrdCappedByEndOfLowRam) {
  auto initrd = testing::pattern(8192, 0x44);
  Loaded l = load(BzImageSpec{}, 64 * kMiB, "", initrd);
  EXPECT_EQ(l.ram->load<uint32_t>(kZeroPage + 0x218), 64 * kMiB - 8192);
  // With RAM above 4 GiB the initrd still stays in low RAM (ramdisk_image is 32-bit).
  BzImageSpec any_address;
  any_address.initrd_addr_max = 0xffffffff;
  Loaded big = load(any_address, 5 * kGiB, "", initrd);
  EXPECT_EQ(big.ram->load<uint32_t>(kZeroPage + 0x218), 3 * kGiB - 8192);
  Loaded capped = load(BzImageSpec{}, 5 * kGiB, "", initrd);
  EXPECT_EQ(capped.ram->load<uint32_t>(kZeroPage + 0x218), 2 * kGiB - 8192);
}

TEST_F(BzImageTest, InitrdStaysAboveInitSize) {
  BzImageSpec spec;
  spec.init_size = 0x1000000;  // kernel at 16 MiB needs up to 32 MiB
  // 32 MiB of RAM leaves no room above the kernel's init_size footprint.
  EXPECT_THAT(load_fn(spec, 33 * kMiB, "", testing::pattern(2 * kMiB, 1)),
              ThrowsMessage<Error>(HasSubstr("does not fit")));
  Loaded l = load(spec, 34 * kMiB, "", testing::pattern(kMiB, 1));
  EXPECT_GE(l.ram->load<uint32_t>(kZeroPage + 0x218), spec.pref_address + spec.init_size);
}

TEST_F(BzImageTest, RelocatesWhenPrefAddressDoesNotFit) {
  BzImageSpec spec;
  spec.init_size = 0x3800000;  // 16 MiB + 56 MiB > 64 MiB
  Loaded l = load(spec, 64 * kMiB);
  EXPECT_EQ(l.ram->load<uint32_t>(kZeroPage + 0x214), 0x200000u);  // 1 MiB aligned up to 2 MiB
  EXPECT_EQ(l.result.bsp.rip, 0x200200u);
  EXPECT_EQ(l.ram->load<uint32_t>(kZeroPage + 0x230), 0x200000u);

  // Only 1 MiB alignment fits: allowed by min_alignment, and kernel_alignment says so.
  spec.init_size = 63 * kMiB;
  spec.min_alignment = 20;
  Loaded tight = load(spec, 64 * kMiB);
  EXPECT_EQ(tight.ram->load<uint32_t>(kZeroPage + 0x214), 0x100000u);
  EXPECT_EQ(tight.ram->load<uint32_t>(kZeroPage + 0x230), 0x100000u);

  spec.min_alignment = 21;
  EXPECT_THAT(load_fn(spec, 64 * kMiB), ThrowsMessage<Error>(HasSubstr("init_size")));
}

TEST_F(BzImageTest, NonRelocatableKernelMustFitAtPrefAddress) {
  BzImageSpec spec;
  spec.relocatable = 0;
  spec.init_size = 0x3800000;
  EXPECT_THAT(load_fn(spec, 64 * kMiB), ThrowsMessage<Error>(HasSubstr("not relocatable")));
  Loaded l = load(spec, 128 * kMiB);
  EXPECT_EQ(l.result.bsp.rip, spec.pref_address + 0x200);
}

TEST_F(BzImageTest, RefusesOldProtocols) {
  BzImageSpec spec;
  spec.version = 0x205;
  EXPECT_THAT(load_fn(spec), ThrowsMessage<Error>(HasSubstr("2.05 is too old; 2.06 or newer")));
  spec.version = 0x20b;  // no xloadflags field yet
  EXPECT_THAT(load_fn(spec), ThrowsMessage<Error>(HasSubstr("XLF_KERNEL_64")));
}

TEST_F(BzImageTest, RefusesKernelWithout64BitEntry) {
  BzImageSpec spec;
  spec.xloadflags = 0x2;
  EXPECT_THAT(load_fn(spec), ThrowsMessage<Error>(HasSubstr("no 64-bit entry point")));
}

TEST_F(BzImageTest, RefusesZImage) {
  BzImageSpec spec;
  spec.loadflags = 0;
  EXPECT_THAT(load_fn(spec), ThrowsMessage<Error>(HasSubstr("zImage")));
}

TEST_F(BzImageTest, RefusesTruncatedKernel) {
  BzImageSpec spec;
  spec.syssize_delta = 1;
  EXPECT_THAT(load_fn(spec), ThrowsMessage<Error>(HasSubstr("truncated")));
}

TEST_F(BzImageTest, RefusesSetupSectsBeyondFile) {
  auto image = make_bzimage(BzImageSpec{});
  image[0x1f1] = 200;  // 100 KiB of setup in a 5.5 KiB file
  BootRequest req;
  req.kernel_path = dir_.write("bzImage", image);
  auto ram = make_ram(512 * kMiB);
  EXPECT_THAT([&] { load_kernel(*ram, req); },
              ThrowsMessage<Error>(HasSubstr("setup_sects (200)")));
}

TEST_F(BzImageTest, RefusesBadBootFlag) {
  auto image = make_bzimage(BzImageSpec{});
  image[0x1fe] = 0;
  BootRequest req;
  req.kernel_path = dir_.write("bzImage", image);
  auto ram = make_ram(512 * kMiB);
  EXPECT_THAT([&] { load_kernel(*ram, req); }, ThrowsMessage<Error>(HasSubstr("boot_flag")));
}

TEST_F(BzImageTest, RefusesHeaderCutShort) {
  auto image = make_bzimage(BzImageSpec{});
  image.resize(0x210);
  BootRequest req;
  req.kernel_path = dir_.write("bzImage", image);
  auto ram = make_ram(512 * kMiB);
  EXPECT_THAT([&] { load_kernel(*ram, req); }, ThrowsMessage<Error>(HasSubstr(req.kernel_path)));
}

TEST_F(BzImageTest, ZeroSetupSectsMeansFour) {
  BzImageSpec spec;
  spec.setup_sects = 0;
  auto image = make_bzimage(spec);
  Loaded l = load(spec);
  EXPECT_EQ(read_guest(*l.ram, spec.pref_address, 16),
            std::vector<uint8_t>(image.begin() + 5 * 512, image.begin() + 5 * 512 + 16));
}

TEST_F(BzImageTest, RefusesInvalidKernelAlignment) {
  BzImageSpec spec;
  spec.kernel_alignment = 0x300000;
  spec.pref_address = 0x1234567;  // not usable, forcing the alignment search
  EXPECT_THAT(load_fn(spec), ThrowsMessage<Error>(HasSubstr("kernel_alignment")));
}

TEST_F(BzImageTest, MissingInitrdNamesPathAndErrno) {
  BootRequest req;
  req.kernel_path = dir_.write("bzImage", make_bzimage(BzImageSpec{}));
  req.initrd_path = dir_.path() + "/no-such-initrd";
  auto ram = make_ram(512 * kMiB);
  EXPECT_THAT([&] { load_kernel(*ram, req); },
              ThrowsMessage<Error>(HasSubstr(req.initrd_path + ": No such file or directory")));
}

}  // namespace
}  // namespace tandem::x86
