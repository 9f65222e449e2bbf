#include "machine/x86/boot/boot_test_util.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "base/error.h"

namespace tandem::x86::testing {

TempDir::TempDir() {
  const char* base = getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/tandem-boot-XXXXXX";
  if (!mkdtemp(tmpl.data())) fail_errno("mkdtemp {}", tmpl);
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::write(const std::string& name, const std::vector<uint8_t>& bytes) const {
  std::string p = path_ + "/" + name;
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out) fail("cannot write {}", p);
  return p;
}

std::unique_ptr<GuestRam> make_ram(uint64_t mem_bytes) {
  auto ram = std::make_unique<GuestRam>();
  constexpr uint64_t kLowMax = 3ull << 30;
  ram->add_region(0, std::min(mem_bytes, kLowMax));
  if (mem_bytes > kLowMax) ram->add_region(4ull << 30, mem_bytes - kLowMax);
  return ram;
}

std::vector<uint8_t> read_guest(const GuestRam& ram, uint64_t gpa, uint64_t len) {
  std::vector<uint8_t> out(len);
  ram.read_or_throw(gpa, out);
  return out;
}

std::string read_guest_string(const GuestRam& ram, uint64_t gpa) {
  std::string s;
  for (;;) {
    char c = static_cast<char>(ram.load<uint8_t>(gpa + s.size()));
    if (c == 0) return s;
    s += c;
  }
}

uint64_t translate(const GuestRam& ram, uint64_t cr3, uint64_t vaddr) {
  uint64_t table = cr3 & ~0xfffull;
  for (int level = 3; level >= 0; --level) {
    unsigned index = (vaddr >> (12 + 9 * level)) & 0x1ff;
    uint64_t entry = ram.load<uint64_t>(table + index * 8);
    if (!(entry & 1)) return ~0ull;
    uint64_t frame = entry & 0x000ffffffffff000ull;
    if (level > 0 && (entry & 0x80)) {  // large page
      uint64_t page_bits = 12 + 9 * level;
      uint64_t mask = (1ull << page_bits) - 1;
      return (frame & ~mask) | (vaddr & mask);
    }
    table = frame;
  }
  return table | (vaddr & 0xfff);
}

std::vector<uint8_t> pattern(size_t size, uint8_t seed) {
  std::vector<uint8_t> v(size);
  for (size_t i = 0; i < size; ++i) v[i] = static_cast<uint8_t>(seed + i * 7 + (i >> 8));
  return v;
}

std::vector<uint8_t> make_bzimage(const BzImageSpec& spec) {
  uint64_t setup_size = (uint64_t{spec.setup_sects == 0 ? 4u : spec.setup_sects} + 1) * 512;
  ByteBuilder b(setup_size);
  // Real-mode code bytes the loader must not interpret.
  for (uint64_t i = 0; i < 0x1f1; ++i) b.put8(i, static_cast<uint8_t>(i ^ 0x5a));
  b.put8(0x1f1, spec.setup_sects);
  b.put16(0x1f2, 1);  // root_flags
  uint64_t paragraphs = (spec.kernel_size + 15) / 16;
  b.put32(0x1f4, static_cast<uint32_t>(static_cast<int64_t>(paragraphs) + spec.syssize_delta));
  b.put16(0x1fa, 0xffff);  // vid_mode
  b.put16(0x1fe, 0xaa55);
  b.put8(0x200, 0xeb);  // jmp short
  b.put8(0x201, 0x6a);  // ... to 0x26c: the header is 0x202 + 0x6a bytes long
  b.put_str(0x202, "HdrS", 4);
  b.put16(0x206, spec.version);
  b.put16(0x20e, 0x1234);  // kernel_version pointer
  b.put8(0x211, spec.loadflags);
  b.put32(0x214, 0x100000);
  b.put32(0x22c, spec.initrd_addr_max);
  b.put32(0x230, spec.kernel_alignment);
  b.put8(0x234, spec.relocatable);
  b.put8(0x235, spec.min_alignment);
  b.put16(0x236, spec.xloadflags);
  b.put32(0x238, spec.cmdline_size);
  b.put64(0x250, 0xdeadbeef);  // setup_data: junk the loader must clear
  b.put64(0x258, spec.pref_address);
  b.put32(0x260, spec.init_size);
  b.put32(0x264, 0x190);   // handover_offset
  b.put32(0x268, 0x4321);  // kernel_info_offset
  // Bytes after the header (still setup code) that must not reach boot_params.
  b.put32(0x26c, 0xcafef00d);
  auto kernel = pattern(paragraphs * 16, 0x11);
  b.put_bytes(setup_size, kernel);
  return b.bytes();
}

std::vector<uint8_t> make_elf(bool is64, uint16_t machine, uint64_t entry,
                              const std::vector<ElfSegmentSpec>& segments) {
  const uint64_t ehsize = is64 ? 64 : 52, phentsize = is64 ? 56 : 32;
  ByteBuilder b(ehsize);
  b.put_str(0,
            "\x7f"
            "ELF",
            4);
  b.put8(4, is64 ? 2 : 1);
  b.put8(5, 1);  // little-endian
  b.put8(6, 1);
  b.put16(16, 2);  // ET_EXEC
  b.put16(18, machine);
  b.put32(20, 1);
  uint64_t phoff = ehsize;
  if (is64) {
    b.put64(24, entry);
    b.put64(32, phoff);
    b.put16(52, static_cast<uint16_t>(ehsize));
    b.put16(54, static_cast<uint16_t>(phentsize));
    b.put16(56, static_cast<uint16_t>(segments.size()));
  } else {
    b.put32(24, static_cast<uint32_t>(entry));
    b.put32(28, static_cast<uint32_t>(phoff));
    b.put16(40, static_cast<uint16_t>(ehsize));
    b.put16(42, static_cast<uint16_t>(phentsize));
    b.put16(44, static_cast<uint16_t>(segments.size()));
  }
  uint64_t data_at = align_up(phoff + phentsize * segments.size(), 16);
  for (size_t i = 0; i < segments.size(); ++i) {
    const auto& s = segments[i];
    uint64_t ph = phoff + i * phentsize;
    uint64_t memsz = s.memsz ? s.memsz : s.data.size();
    if (is64) {
      b.put32(ph, s.type);
      b.put32(ph + 4, 5);
      b.put64(ph + 8, data_at);
      b.put64(ph + 16, s.vaddr);
      b.put64(ph + 24, s.paddr);
      b.put64(ph + 32, s.data.size());
      b.put64(ph + 40, memsz);
      b.put64(ph + 48, s.align);
    } else {
      b.put32(ph, s.type);
      b.put32(ph + 4, static_cast<uint32_t>(data_at));
      b.put32(ph + 8, static_cast<uint32_t>(s.vaddr));
      b.put32(ph + 12, static_cast<uint32_t>(s.paddr));
      b.put32(ph + 16, static_cast<uint32_t>(s.data.size()));
      b.put32(ph + 20, static_cast<uint32_t>(memsz));
      b.put32(ph + 24, 5);
      b.put32(ph + 28, static_cast<uint32_t>(s.align));
    }
    b.put_bytes(data_at, s.data);
    data_at = align_up(data_at + s.data.size(), 16);
  }
  return b.bytes();
}

std::vector<uint8_t> make_note(const std::string& name, uint32_t type,
                               const std::vector<uint8_t>& desc) {
  ByteBuilder b;
  b.add32(static_cast<uint32_t>(name.size() + 1));
  b.add32(static_cast<uint32_t>(desc.size()));
  b.add32(type);
  b.add_str(name, align_up(name.size() + 1, 4), '\0');
  b.put_bytes(b.size(), desc);
  while (b.size() % 4) b.add8(0);
  return b.bytes();
}

}  // namespace tandem::x86::testing
