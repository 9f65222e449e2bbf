#include "user/elf_loader.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "base/error.h"
#include "base/file_util.h"
#include "base/unique_fd.h"

namespace tandem::user {
namespace {

bool add_overflows(uint64_t a, uint64_t b) {
  return a + b < a;
}

int segment_prot(uint32_t flags) {
  int prot = 0;
  if (flags & PF_R) prot |= PROT_READ;
  if (flags & PF_W) prot |= PROT_WRITE;
  if (flags & PF_X) prot |= PROT_EXEC;
  return prot;
}

}  // namespace

uint64_t pie_load_base(const AddressSpace& as) {
  return page_down(as.limit() / 3 * 2);
}

LoadedImage load_elf(AddressSpace& as, const std::string& path) {
  const std::vector<uint8_t> file = read_file(path);
  auto bad = [&](const char* why) -> void {
    fail("{}: not a valid ELF executable: {}", path, why);
  };
  if (file.size() < sizeof(Elf64_Ehdr) || std::memcmp(file.data(), ELFMAG, SELFMAG) != 0) {
    fail("{}: not an ELF file", path);
  }
  if (file[EI_CLASS] != ELFCLASS64)
    fail("{}: not a 64-bit ELF file (riscv64 needs ELFCLASS64)", path);
  if (file[EI_DATA] != ELFDATA2LSB) bad("not little-endian");
  if (file[EI_VERSION] != EV_CURRENT) bad("bad ELF version");
  Elf64_Ehdr eh;
  std::memcpy(&eh, file.data(), sizeof eh);
  if (eh.e_machine != EM_RISCV) {
    fail("{}: wrong machine type {} (expected RISC-V, EM_RISCV = {})", path, eh.e_machine,
         EM_RISCV);
  }
  if (eh.e_version != EV_CURRENT) bad("bad e_version");
  if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) bad("not an executable (e_type)");
  if (eh.e_ehsize < sizeof(Elf64_Ehdr)) bad("bad e_ehsize");
  if (eh.e_flags & 0x8) fail("{}: RV32E/RV64E binaries are not supported", path);  // EF_RISCV_RVE
  if (eh.e_phentsize != sizeof(Elf64_Phdr)) bad("bad e_phentsize");
  if (eh.e_phnum == 0 || eh.e_phnum > 1024) bad("bad e_phnum");
  if (eh.e_phoff > file.size() ||
      file.size() - eh.e_phoff < static_cast<uint64_t>(eh.e_phnum) * sizeof(Elf64_Phdr)) {
    bad("program headers lie outside the file");
  }
  std::vector<Elf64_Phdr> ph(eh.e_phnum);
  std::memcpy(ph.data(), file.data() + eh.e_phoff, ph.size() * sizeof(Elf64_Phdr));

  uint64_t lo = UINT64_MAX, hi = 0, max_align = kPageSize;
  uint64_t phdr_vaddr = 0;
  bool have_phdr = false;
  for (const Elf64_Phdr& p : ph) {
    if (p.p_type == PT_INTERP) {
      std::string interp;
      if (p.p_offset < file.size() && p.p_filesz <= file.size() - p.p_offset) {
        interp.assign(reinterpret_cast<const char*>(file.data() + p.p_offset), p.p_filesz);
        interp = interp.c_str();
      }
      fail(
          "{}: dynamically linked programs are not supported (it needs the interpreter {}); "
          "link it with -static",
          path, interp.empty() ? "?" : interp);
    }
    if (p.p_type == PT_PHDR) {
      phdr_vaddr = p.p_vaddr;
      have_phdr = true;
    }
    if (p.p_type != PT_LOAD) continue;
    if (p.p_filesz > p.p_memsz) bad("segment file size exceeds its memory size");
    if (p.p_offset > file.size() || p.p_filesz > file.size() - p.p_offset) {
      bad("segment lies outside the file");
    }
    if (p.p_align > 1 && (p.p_align & (p.p_align - 1))) bad("segment alignment not a power of 2");
    if ((p.p_vaddr - p.p_offset) % kPageSize != 0)
      bad("segment not page-congruent with its offset");
    if (add_overflows(p.p_vaddr, p.p_memsz)) bad("segment address overflows");
    if (p.p_memsz == 0) continue;
    lo = std::min(lo, page_down(p.p_vaddr));
    hi = std::max(hi, page_up(p.p_vaddr + p.p_memsz));
    max_align = std::max<uint64_t>(max_align, p.p_align);
  }
  if (hi == 0) bad("no loadable segments");

  LoadedImage img;
  if (eh.e_type == ET_DYN) {
    const uint64_t align = std::min<uint64_t>(max_align, 1ull << 30);
    img.load_bias = ((pie_load_base(as) + align - 1) & ~(align - 1)) - lo;
  }
  const uint64_t start = lo + img.load_bias, end = hi + img.load_bias;
  if (end > as.limit() || end < start || start < 0x1000) {
    fail("{}: segments at 0x{:x}-0x{:x} do not fit the guest address space", path, start, end);
  }
  if (!as.is_free(start, end - start)) fail("{}: segments overlap existing mappings", path);
  // Entry must lie in an executable segment.
  bool entry_ok = false;
  for (const Elf64_Phdr& p : ph) {
    if (p.p_type == PT_LOAD && (p.p_flags & PF_X) && eh.e_entry >= p.p_vaddr &&
        eh.e_entry - p.p_vaddr < p.p_memsz) {
      entry_ok = true;
    }
  }
  if (!entry_ok) bad("entry point is not in an executable segment");

  // Map every page a segment touches read/write, copy the file bytes, then apply each page's
  // protection (the union of the segments sharing it). Gaps stay unmapped.
  std::vector<int> prot((end - start) / kPageSize, -1);
  for (const Elf64_Phdr& p : ph) {
    if (p.p_type != PT_LOAD || p.p_memsz == 0) continue;
    const uint64_t s = page_down(p.p_vaddr + img.load_bias),
                   e = page_up(p.p_vaddr + img.load_bias + p.p_memsz);
    for (uint64_t a = s; a < e; a += kPageSize) {
      int& pp = prot[(a - start) / kPageSize];
      pp = (pp < 0 ? 0 : pp) | segment_prot(p.p_flags);
    }
  }
  for (uint64_t i = 0; i < prot.size();) {
    if (prot[i] < 0) {
      ++i;
      continue;
    }
    uint64_t j = i;
    while (j < prot.size() && prot[j] >= 0) ++j;
    const int r = as.map_fixed(start + i * kPageSize, (j - i) * kPageSize, PROT_READ | PROT_WRITE);
    if (r < 0) fail("{}: cannot map segments: {}", path, std::strerror(-r));
    i = j;
  }
  for (const Elf64_Phdr& p : ph) {
    if (p.p_type != PT_LOAD || p.p_filesz == 0) continue;
    as.write_bytes(p.p_vaddr + img.load_bias, file.data() + p.p_offset, p.p_filesz);
  }
  for (uint64_t i = 0; i < prot.size(); ++i) {
    if (prot[i] >= 0) as.protect(start + i * kPageSize, kPageSize, prot[i]);
  }

  img.entry = eh.e_entry + img.load_bias;
  img.phnum = eh.e_phnum;
  img.phentsize = eh.e_phentsize;
  img.start = start;
  img.brk_start = end;
  if (have_phdr) {
    img.phdr_addr = phdr_vaddr + img.load_bias;
  } else {
    // The headers are usually inside the first segment's file image.
    for (const Elf64_Phdr& p : ph) {
      if (p.p_type == PT_LOAD && eh.e_phoff >= p.p_offset && eh.e_phoff - p.p_offset < p.p_filesz) {
        img.phdr_addr = p.p_vaddr + (eh.e_phoff - p.p_offset) + img.load_bias;
        break;
      }
    }
  }
  return img;
}

uint64_t build_initial_stack(AddressSpace& as, uint64_t stack_top, const LoadedImage& image,
                             const StackArgs& args) {
  uint64_t p = stack_top;
  auto push_string = [&](const std::string& s) {
    p -= s.size() + 1;
    as.write_bytes(p, s.c_str(), s.size() + 1);
    return p;
  };
  // As Linux: the exec file name at the very top, then environment and argument strings
  // (argv[0] lowest).
  p -= 8;  // a null word at the very top
  as.write_bytes(p, "\0\0\0\0\0\0\0\0", 8);
  const uint64_t execfn = push_string(args.execfn);
  std::vector<uint64_t> envp(args.envp.size()), argv(args.argv.size());
  for (size_t i = args.envp.size(); i-- > 0;) envp[i] = push_string(args.envp[i]);
  for (size_t i = args.argv.size(); i-- > 0;) argv[i] = push_string(args.argv[i]);
  p &= ~15ull;
  const uint64_t platform = push_string("riscv64");
  p &= ~15ull;
  uint8_t random[16];
  if (::getrandom(random, sizeof random, 0) != sizeof random) {
    for (size_t i = 0; i < sizeof random; ++i) random[i] = static_cast<uint8_t>(rand());
  }
  p -= 16;
  as.write_bytes(p, random, 16);
  const uint64_t random_addr = p;

  std::vector<uint64_t> auxv = {
      AT_PHDR,     image.phdr_addr,
      AT_PHENT,    image.phentsize,
      AT_PHNUM,    image.phnum,
      AT_PAGESZ,   kPageSize,
      AT_BASE,     0,  // no interpreter
      AT_FLAGS,    0,
      AT_ENTRY,    image.entry,
      AT_UID,      ::getuid(),
      AT_EUID,     ::geteuid(),
      AT_GID,      ::getgid(),
      AT_EGID,     ::getegid(),
      AT_SECURE,   0,
      AT_RANDOM,   random_addr,
      AT_HWCAP,    kHwcapImafdc,
      AT_HWCAP2,   0,
      AT_CLKTCK,   static_cast<uint64_t>(::sysconf(_SC_CLK_TCK)),
      AT_EXECFN,   execfn,
      AT_PLATFORM, platform,
      AT_NULL,     0,
  };
  std::vector<uint64_t> words;
  words.push_back(args.argv.size());
  words.insert(words.end(), argv.begin(), argv.end());
  words.push_back(0);
  words.insert(words.end(), envp.begin(), envp.end());
  words.push_back(0);
  words.insert(words.end(), auxv.begin(), auxv.end());
  p -= words.size() * 8;
  p &= ~15ull;
  as.write_bytes(p, words.data(), words.size() * 8);
  return p;
}

}  // namespace tandem::user
