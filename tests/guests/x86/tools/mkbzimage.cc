// mkbzimage SETUP_BIN PAYLOAD_ELF PAYLOAD_BIN OUTPUT
// Builds a bzImage-format kernel from the guests' real-mode setup (setup.S, with the boot
// protocol header) and the flat payload linked at 0x100000: pads the setup to whole sectors and
// fills in setup_sects, syssize and init_size (the payload's memory extent, from the ELF's
// PT_LOAD headers, so that loaders keep the .bss free).
#include <elf.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

std::vector<uint8_t> slurp(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "mkbzimage: cannot read %s\n", path);
    std::exit(1);
  }
  return {std::istreambuf_iterator<char>(in), {}};
}

template <typename T>
void put(std::vector<uint8_t>& buf, size_t off, T v) {
  std::memcpy(buf.data() + off, &v, sizeof v);
}

uint64_t memory_extent(const std::vector<uint8_t>& elf, uint64_t base) {
  Elf64_Ehdr eh;
  if (elf.size() < sizeof eh) return 0;
  std::memcpy(&eh, elf.data(), sizeof eh);
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64) return 0;
  uint64_t end = 0;
  for (int i = 0; i < eh.e_phnum; i++) {
    Elf64_Phdr ph;
    size_t off = eh.e_phoff + static_cast<size_t>(i) * eh.e_phentsize;
    if (off + sizeof ph > elf.size()) return 0;
    std::memcpy(&ph, elf.data() + off, sizeof ph);
    if (ph.p_type == PT_LOAD && ph.p_paddr + ph.p_memsz > end) end = ph.p_paddr + ph.p_memsz;
  }
  return end > base ? end - base : 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: mkbzimage SETUP_BIN PAYLOAD_ELF PAYLOAD_BIN OUTPUT\n");
    return 2;
  }
  std::vector<uint8_t> setup = slurp(argv[1]);
  std::vector<uint8_t> elf = slurp(argv[2]);
  std::vector<uint8_t> payload = slurp(argv[3]);
  if (setup.size() < 0x270 || std::memcmp(setup.data() + 0x202, "HdrS", 4) != 0) {
    std::fprintf(stderr, "mkbzimage: %s has no setup header\n", argv[1]);
    return 1;
  }
  setup.resize((setup.size() + 511) / 512 * 512);
  size_t sects = setup.size() / 512 - 1;
  if (sects < 4 || sects > 255) {
    std::fprintf(stderr, "mkbzimage: setup of %zu sectors\n", sects);
    return 1;
  }
  uint64_t extent = memory_extent(elf, 0x100000);
  if (extent < payload.size()) {
    std::fprintf(stderr, "mkbzimage: %s: no PT_LOAD at 0x100000 covering the payload\n", argv[2]);
    return 1;
  }
  setup[0x1f1] = static_cast<uint8_t>(sects);
  put<uint32_t>(setup, 0x1f4, static_cast<uint32_t>((payload.size() + 15) / 16));
  put<uint32_t>(setup, 0x260, static_cast<uint32_t>((extent + 4095) / 4096 * 4096));
  std::ofstream out(argv[4], std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(setup.data()),
            static_cast<std::streamsize>(setup.size()));
  out.write(reinterpret_cast<const char*>(payload.data()),
            static_cast<std::streamsize>(payload.size()));
  if (!out) {
    std::fprintf(stderr, "mkbzimage: cannot write %s\n", argv[4]);
    return 1;
  }
  return 0;
}
