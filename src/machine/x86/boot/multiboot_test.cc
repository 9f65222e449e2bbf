#include "machine/x86/boot/multiboot.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/error.h"
#include "machine/x86/boot/boot_layout.h"
#include "machine/x86/boot/boot_test_util.h"
#include "machine/x86/boot/e820.h"

namespace tandem::x86 {
namespace {

using testing::ElfSegmentSpec;
using ::testing::HasSubstr;
using testing::make_ram;
using testing::pattern;
using testing::read_guest;
using testing::read_guest_string;
using ::testing::ThrowsMessage;

constexpr uint64_t kMiB = 1ull << 20;

struct HeaderSpec {
  uint32_t flags = kMbAddressFields | kMbMemoryInfo | kMbPageAlignModules;
  uint32_t header_addr = 0, load_addr = 0, load_end_addr = 0, bss_end_addr = 0, entry_addr = 0;
  int checksum_delta = 0;
};

void put_header(ByteBuilder& b, size_t at, const HeaderSpec& h) {
  b.put32(at, kMultibootHeaderMagic);
  b.put32(at + 4, h.flags);
  b.put32(at + 8, static_cast<uint32_t>(-(kMultibootHeaderMagic + h.flags) + h.checksum_delta));
  b.put32(at + 12, h.header_addr);
  b.put32(at + 16, h.load_addr);
  b.put32(at + 20, h.load_end_addr);
  b.put32(at + 24, h.bss_end_addr);
  b.put32(at + 28, h.entry_addr);
}

// An a.out-kludge kernel: 0x2000 bytes of image (header at 0x1000) loaded at 1 MiB.
std::vector<uint8_t> aout_kernel(HeaderSpec h, size_t header_at = 0x1000) {
  ByteBuilder b;
  b.put_bytes(0, pattern(0x2000, 3));
  put_header(b, header_at, h);
  return b.bytes();
}

HeaderSpec aout_spec() {
  HeaderSpec h;
  h.header_addr = 0x101000;
  h.load_addr = 0x100000;
  h.load_end_addr = 0x102000;
  h.bss_end_addr = 0x104800;
  h.entry_addr = 0x100020;
  return h;
}

class MultibootTest : public ::testing::Test {
 protected:
  BootResult load(const std::vector<uint8_t>& kernel, const std::string& cmdline = "",
                  const std::string& initrd = "") {
    BootRequest req;
    req.kernel_path = kernel_path_ = dir_.write("kernel.bin", kernel);
    req.initrd_path = initrd;
    req.cmdline = cmdline;
    return load_kernel(*ram_, req);
  }
  testing::TempDir dir_;
  std::string kernel_path_;
  std::unique_ptr<GuestRam> ram_ = make_ram(128 * kMiB);
};

TEST_F(MultibootTest, FindsHeader) {
  auto k = aout_kernel(aout_spec());
  auto h = find_multiboot_header(ByteView(k));
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->offset, 0x1000u);
  EXPECT_EQ(h->load_addr, 0x100000u);
  EXPECT_EQ(h->entry_addr, 0x100020u);

  HeaderSpec bad = aout_spec();
  bad.checksum_delta = 1;
  auto k2 = aout_kernel(bad);
  EXPECT_FALSE(find_multiboot_header(ByteView(k2)).has_value());

  // Not 4-byte aligned, or beyond the first 8 KiB: not a header.
  auto k3 = aout_kernel(aout_spec(), 0x1002);
  EXPECT_FALSE(find_multiboot_header(ByteView(k3)).has_value());
  ByteBuilder far;
  far.put_bytes(0, pattern(0x3000, 1));
  put_header(far, 0x2000, aout_spec());
  EXPECT_FALSE(find_multiboot_header(ByteView(far.bytes())).has_value());
}

TEST_F(MultibootTest, AoutKludgeLoadsImageAndClearsBss) {
  ram_->write_or_throw(0x102000, std::vector<uint8_t>(0x2800, 0xaa));
  auto k = aout_kernel(aout_spec());
  BootResult r = load(k, "debug=1");
  EXPECT_EQ(r.format, "multiboot");
  EXPECT_EQ(r.bsp.mode, EntryMode::kProtected32);
  EXPECT_EQ(r.bsp.rip, 0x100020u);
  EXPECT_EQ(r.bsp.rax, 0x2badb002u);
  EXPECT_EQ(r.bsp.rbx, kBootInfoAddr);
  EXPECT_EQ(r.bsp.cr0 & 0x80000001u, 1u);
  EXPECT_EQ(r.bsp.cs.db, 1);
  EXPECT_EQ(read_guest(*ram_, 0x100000, 0x2000), k);
  EXPECT_EQ(read_guest(*ram_, 0x102000, 0x2800), std::vector<uint8_t>(0x2800, 0));
}

TEST_F(MultibootTest, InformationStructure) {
  auto initrd_a = dir_.write("mod-a", pattern(3000, 7));
  auto initrd_b = dir_.write("mod,b", pattern(5000, 8));
  load(aout_kernel(aout_spec()), "debug=1", initrd_a + " arg1 arg2," + dir_.path() + "/mod,,b");
  const GuestRam& ram = *ram_;
  uint64_t mbi = kBootInfoAddr;
  uint32_t flags = ram.load<uint32_t>(mbi);
  EXPECT_EQ(flags & (kMbiMem | kMbiCmdline | kMbiMods | kMbiMmap | kMbiLoaderName),
            kMbiMem | kMbiCmdline | kMbiMods | kMbiMmap | kMbiLoaderName);
  EXPECT_EQ(ram.load<uint32_t>(mbi + 4), 639u);                        // mem_lower, KiB
  EXPECT_EQ(ram.load<uint32_t>(mbi + 8), (128 * kMiB - kMiB) / 1024);  // mem_upper, KiB
  EXPECT_EQ(read_guest_string(ram, ram.load<uint32_t>(mbi + 16)), kernel_path_ + " debug=1");
  EXPECT_EQ(read_guest_string(ram, ram.load<uint32_t>(mbi + 64)), "tandem");

  ASSERT_EQ(ram.load<uint32_t>(mbi + 20), 2u);
  uint32_t mods = ram.load<uint32_t>(mbi + 24);
  uint32_t a_start = ram.load<uint32_t>(mods), a_end = ram.load<uint32_t>(mods + 4);
  EXPECT_EQ(a_start, 0x105000u);  // first page after the bss
  EXPECT_EQ(a_end - a_start, 3000u);
  EXPECT_EQ(read_guest(ram, a_start, 3000), pattern(3000, 7));
  EXPECT_EQ(read_guest_string(ram, ram.load<uint32_t>(mods + 8)), initrd_a + " arg1 arg2");
  uint32_t b_start = ram.load<uint32_t>(mods + 16), b_end = ram.load<uint32_t>(mods + 20);
  EXPECT_EQ(b_start, 0x106000u);
  EXPECT_EQ(b_end - b_start, 5000u);
  EXPECT_EQ(read_guest(ram, b_start, 5000), pattern(5000, 8));
  EXPECT_EQ(read_guest_string(ram, ram.load<uint32_t>(mods + 24)), initrd_b);

  auto map = e820_map(ram);
  uint32_t mmap_len = ram.load<uint32_t>(mbi + 44), mmap = ram.load<uint32_t>(mbi + 48);
  ASSERT_EQ(mmap_len, map.size() * 24);
  for (size_t i = 0; i < map.size(); ++i) {
    uint64_t e = mmap + i * 24;
    EXPECT_EQ(ram.load<uint32_t>(e), 20u);  // size of the rest of the entry
    EXPECT_EQ(ram.load<uint64_t>(e + 4), map[i].addr);
    EXPECT_EQ(ram.load<uint64_t>(e + 12), map[i].size);
    EXPECT_EQ(ram.load<uint32_t>(e + 20), map[i].type);
  }
}

TEST_F(MultibootTest, NoModules) {
  load(aout_kernel(aout_spec()));
  EXPECT_EQ(ram_->load<uint32_t>(kBootInfoAddr + 20), 0u);
  EXPECT_EQ(read_guest_string(*ram_, ram_->load<uint32_t>(kBootInfoAddr + 16)), kernel_path_);
}

TEST_F(MultibootTest, AoutLoadEndZeroLoadsRestOfFile) {
  HeaderSpec h = aout_spec();
  h.load_end_addr = 0;
  h.bss_end_addr = 0;
  auto k = aout_kernel(h);
  load(k);
  EXPECT_EQ(read_guest(*ram_, 0x100000, k.size()), k);
}

TEST_F(MultibootTest, AoutRejectsInconsistentAddresses) {
  HeaderSpec h = aout_spec();
  h.load_end_addr = 0x110000;  // beyond the 8 KiB file
  EXPECT_THAT([&] { load(aout_kernel(h)); }, ThrowsMessage<Error>(HasSubstr("truncated")));
  h = aout_spec();
  h.header_addr = 0x0ff000;  // below load_addr
  EXPECT_THAT([&] { load(aout_kernel(h)); }, ThrowsMessage<Error>(HasSubstr("header_addr")));
  h = aout_spec();
  h.bss_end_addr = 0x101000;
  EXPECT_THAT([&] { load(aout_kernel(h)); }, ThrowsMessage<Error>(HasSubstr("bss_end_addr")));
  h = aout_spec();
  h.header_addr = 0x7f001000;  // the image would land outside the 128 MiB of RAM
  h.load_addr = 0x7f000000;
  h.load_end_addr = 0x7f002000;
  h.bss_end_addr = 0;
  EXPECT_THAT([&] { load(aout_kernel(h)); },
              ThrowsMessage<Error>(HasSubstr("not in usable guest RAM")));
}

TEST_F(MultibootTest, RequiredFlags) {
  HeaderSpec h = aout_spec();
  h.flags |= 1u << 3;
  EXPECT_THAT([&] { load(aout_kernel(h)); },
              ThrowsMessage<Error>(HasSubstr("unsupported features (flags 0x8)")));
  h = aout_spec();
  h.flags |= kMbVideoMode;  // ignored, as QEMU does
  EXPECT_EQ(load(aout_kernel(h)).format, "multiboot");
}

// An ELF32 multiboot kernel linked at 3 GiB + 1 MiB virtual, 1 MiB physical.
std::vector<uint8_t> elf_kernel(bool is64) {
  ByteBuilder text;
  text.put_bytes(0, pattern(0x1000, 4));
  HeaderSpec h;
  h.flags = kMbPageAlignModules | kMbMemoryInfo;
  put_header(text, 0x10, h);
  return testing::make_elf(
      is64, is64 ? 62 : 3, 0xc0100040,
      {ElfSegmentSpec{
          .paddr = 0x100000, .vaddr = 0xc0100000, .data = text.bytes(), .memsz = 0x3000}});
}

TEST_F(MultibootTest, ElfKernelLoadedByProgramHeaders) {
  BootResult r = load(elf_kernel(false));
  EXPECT_EQ(r.format, "multiboot");
  EXPECT_EQ(r.bsp.rip, 0x100040u);  // virtual entry translated to physical
  EXPECT_EQ(ram_->load<uint32_t>(0x100010), kMultibootHeaderMagic);
  EXPECT_EQ(read_guest(*ram_, 0x101000, 0x2000), std::vector<uint8_t>(0x2000, 0));
}

TEST_F(MultibootTest, RejectsElf64AndNonElfWithoutAddressFields) {
  EXPECT_THAT([&] { load(elf_kernel(true)); }, ThrowsMessage<Error>(HasSubstr("ELF32")));
  HeaderSpec h = aout_spec();
  h.flags &= ~kMbAddressFields;
  EXPECT_THAT([&] { load(aout_kernel(h)); }, ThrowsMessage<Error>(HasSubstr("must be an ELF")));
}

TEST_F(MultibootTest, MissingModuleNamesPath) {
  std::string missing = dir_.path() + "/nope";
  EXPECT_THAT([&] { load(aout_kernel(aout_spec()), "", missing + " args"); },
              ThrowsMessage<Error>(HasSubstr(missing + ": No such file or directory")));
}

}  // namespace
}  // namespace tandem::x86
