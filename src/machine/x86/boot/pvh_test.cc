#include "machine/x86/boot/pvh.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/error.h"
#include "machine/x86/boot/boot_layout.h"
#include "machine/x86/boot/boot_test_util.h"
#include "machine/x86/boot/e820.h"
#include "machine/x86/boot/firmware_tables.h"

namespace tandem::x86 {
namespace {

using testing::ElfSegmentSpec;
using ::testing::HasSubstr;
using testing::make_elf;
using testing::make_note;
using testing::make_ram;
using testing::pattern;
using testing::read_guest;
using testing::read_guest_string;
using ::testing::ThrowsMessage;

constexpr uint64_t kMiB = 1ull << 20;

std::vector<uint8_t> le(uint64_t v, int bytes) {
  std::vector<uint8_t> out;
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
  return out;
}

// A vmlinux-like PVH ELF: code at 16 MiB with a bss, and a PT_NOTE whose PHYS32_ENTRY note
// follows an unrelated note.
std::vector<uint8_t> pvh_elf(bool is64, uint64_t entry, int desc_bytes = -1) {
  auto notes = make_note("GNU", 3, pattern(20, 9));
  auto xen = make_note("Xen", kXenElfnotePhys32Entry,
                       le(entry, desc_bytes < 0 ? (is64 ? 8 : 4) : desc_bytes));
  notes.insert(notes.end(), xen.begin(), xen.end());
  return make_elf(is64, is64 ? 62 : 3, 0xffffffff81000000ull & (is64 ? ~0ull : 0xffffffffull),
                  {ElfSegmentSpec{.type = 1,
                                  .paddr = 16 * kMiB,
                                  .vaddr = 0xffffffff81000000ull,
                                  .data = pattern(0x3000, 1),
                                  .memsz = 0x5000},
                   ElfSegmentSpec{.type = 4, .data = notes}});
}

class PvhTest : public ::testing::Test {
 protected:
  BootResult load(const std::vector<uint8_t>& elf, const std::string& cmdline = "",
                  const std::vector<uint8_t>& initrd = {}) {
    BootRequest req;
    req.kernel_path = dir_.write("vmlinux", elf);
    if (!initrd.empty()) req.initrd_path = dir_.write("initrd", initrd);
    req.cmdline = cmdline;
    return load_kernel(*ram_, req);
  }
  testing::TempDir dir_;
  std::unique_ptr<GuestRam> ram_ = make_ram(256 * kMiB);
};

TEST_F(PvhTest, LoadsSegmentsAndBuildsStartInfo) {
  // Pre-fill the bss to check it is cleared.
  ram_->write_or_throw(16 * kMiB + 0x3000, std::vector<uint8_t>(0x2000, 0xaa));
  auto initrd = pattern(10000, 5);
  BootResult r = load(pvh_elf(true, 0x1000040), "console=hvc0", initrd);
  EXPECT_EQ(r.format, "pvh");
  EXPECT_EQ(r.bsp.mode, EntryMode::kProtected32);
  EXPECT_EQ(r.bsp.rip, 0x1000040u);
  EXPECT_EQ(r.bsp.rbx, kBootInfoAddr);
  EXPECT_EQ(r.bsp.cr0 & 0x80000001u, 1u);  // PE, no paging
  EXPECT_EQ(r.bsp.cs.db, 1);
  EXPECT_EQ(r.bsp.cs.l, 0);
  EXPECT_EQ(r.bsp.cs.limit, 0xffffffffu);
  EXPECT_EQ(r.bsp.ds.selector, 0x18);
  EXPECT_EQ(r.bsp.efer, 0u);

  EXPECT_EQ(read_guest(*ram_, 16 * kMiB, 0x3000), pattern(0x3000, 1));
  EXPECT_EQ(read_guest(*ram_, 16 * kMiB + 0x3000, 0x2000), std::vector<uint8_t>(0x2000, 0));

  const GuestRam& ram = *ram_;
  uint64_t si = kBootInfoAddr;
  EXPECT_EQ(ram.load<uint32_t>(si), 0x336ec578u);
  EXPECT_EQ(ram.load<uint32_t>(si + 4), 1u);
  EXPECT_EQ(read_guest_string(ram, ram.load<uint64_t>(si + 24)), "console=hvc0");
  EXPECT_EQ(ram.load<uint64_t>(si + 32), kRsdpAddress);
  ASSERT_EQ(ram.load<uint32_t>(si + 12), 1u);
  uint64_t mod = ram.load<uint64_t>(si + 16);
  uint64_t initrd_at = ram.load<uint64_t>(mod);
  EXPECT_EQ(ram.load<uint64_t>(mod + 8), initrd.size());
  EXPECT_EQ(initrd_at % 4096, 0u);
  EXPECT_GE(initrd_at, 16 * kMiB + 0x5000);
  EXPECT_EQ(initrd_at, (256 * kMiB - initrd.size()) & ~0xfffull);
  EXPECT_EQ(read_guest(ram, initrd_at, initrd.size()), initrd);

  auto map = e820_map(ram);
  ASSERT_EQ(ram.load<uint32_t>(si + 48), map.size());
  uint64_t mm = ram.load<uint64_t>(si + 40);
  for (size_t i = 0; i < map.size(); ++i) {
    EXPECT_EQ(ram.load<uint64_t>(mm + i * 24), map[i].addr);
    EXPECT_EQ(ram.load<uint64_t>(mm + i * 24 + 8), map[i].size);
    EXPECT_EQ(ram.load<uint32_t>(mm + i * 24 + 16), map[i].type);
    EXPECT_EQ(ram.load<uint32_t>(mm + i * 24 + 20), 0u);
  }
}

TEST_F(PvhTest, NoInitrdMeansNoModules) {
  load(pvh_elf(true, 0x1000000));
  EXPECT_EQ(ram_->load<uint32_t>(kBootInfoAddr + 12), 0u);
  EXPECT_EQ(ram_->load<uint64_t>(kBootInfoAddr + 16), 0u);
}

TEST_F(PvhTest, Elf32WithFourByteNote) {
  BootResult r = load(pvh_elf(false, 0x1000010));
  EXPECT_EQ(r.format, "pvh");
  EXPECT_EQ(r.bsp.rip, 0x1000010u);
}

TEST_F(PvhTest, EntryNoteParsing) {
  auto file = pvh_elf(true, 0x1234567);
  ByteView view(file);
  ElfImage elf = parse_elf(view, "x");
  EXPECT_EQ(pvh_entry_point(elf, view, "x"), 0x1234567u);

  auto bad = pvh_elf(true, 0x1234567, 2);
  ByteView bad_view(bad);
  EXPECT_THAT([&] { pvh_entry_point(parse_elf(bad_view, "x"), bad_view, "x"); },
              ThrowsMessage<Error>(HasSubstr("2-byte descriptor")));
  EXPECT_THAT([&] { load(pvh_elf(true, 0x100000000ull)); },
              ThrowsMessage<Error>(HasSubstr("above 4 GiB")));
}

TEST_F(PvhTest, ElfWithoutNoteIsRejected) {
  auto elf =
      make_elf(true, 62, 0x1000000, {ElfSegmentSpec{.paddr = 16 * kMiB, .data = pattern(64, 1)}});
  EXPECT_THAT([&] { load(elf); },
              ThrowsMessage<Error>(HasSubstr("not a bzImage, PVH ELF or multiboot kernel")));
}

TEST_F(PvhTest, RejectsSegmentsOutsideRamOrFile) {
  auto notes = make_note("Xen", kXenElfnotePhys32Entry, le(0x1000000, 8));
  auto outside =
      make_elf(true, 62, 0,
               {ElfSegmentSpec{.paddr = 255 * kMiB, .data = pattern(64, 1), .memsz = 2 * kMiB},
                ElfSegmentSpec{.type = 4, .data = notes}});
  EXPECT_THAT([&] { load(outside); }, ThrowsMessage<Error>(HasSubstr("not in usable guest RAM")));
  auto low = make_elf(true, 62, 0,
                      {ElfSegmentSpec{.paddr = 0x7000, .data = pattern(64, 1)},
                       ElfSegmentSpec{.type = 4, .data = notes}});
  EXPECT_THAT([&] { load(low); }, ThrowsMessage<Error>(HasSubstr("boot data")));

  auto truncated = make_elf(true, 62, 0,
                            {ElfSegmentSpec{.paddr = 16 * kMiB, .data = pattern(64, 1)},
                             ElfSegmentSpec{.type = 4, .data = notes}});
  truncated.resize(truncated.size() - 8);  // cuts into the note segment
  EXPECT_THAT([&] { load(truncated); }, ThrowsMessage<Error>(HasSubstr("beyond the end")));
}

}  // namespace
}  // namespace tandem::x86
