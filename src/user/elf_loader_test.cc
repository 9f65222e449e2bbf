#include "user/elf_loader.h"

#include <elf.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "base/error.h"

namespace tandem::user {
namespace {

// A minimal riscv64 executable: one R+X segment holding the headers and 8 bytes of code at
// 0x10000 + 0x78, and an R+W segment with .data and .bss at 0x12000.
struct TinyElf {
  Elf64_Ehdr eh{};
  Elf64_Phdr ph[2]{};
  uint8_t code[8] = {0x13, 0x05, 0xa0, 0x02, 0x73, 0x00, 0x00, 0x00};  // li a0,42; ecall
  TinyElf() {
    std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_type = ET_EXEC;
    eh.e_machine = EM_RISCV;
    eh.e_version = EV_CURRENT;
    eh.e_entry = 0x10000 + sizeof(Elf64_Ehdr) + 2 * sizeof(Elf64_Phdr);
    eh.e_phoff = sizeof(Elf64_Ehdr);
    eh.e_ehsize = sizeof(Elf64_Ehdr);
    eh.e_phentsize = sizeof(Elf64_Phdr);
    eh.e_phnum = 2;
    ph[0].p_type = PT_LOAD;
    ph[0].p_flags = PF_R | PF_X;
    ph[0].p_vaddr = 0x10000;
    ph[0].p_filesz = ph[0].p_memsz = sizeof(TinyElf);
    ph[0].p_align = 0x1000;
    ph[1].p_type = PT_LOAD;
    ph[1].p_flags = PF_R | PF_W;
    ph[1].p_offset = 0;
    ph[1].p_vaddr = 0x12000;
    ph[1].p_filesz = 16;
    ph[1].p_memsz = 0x1800;  // crosses into a second, bss-only page
    ph[1].p_align = 0x1000;
  }
  std::string write() const {
    char path[] = "/tmp/tandem-elf-XXXXXX";
    const int fd = mkstemp(path);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(::write(fd, this, sizeof *this), static_cast<ssize_t>(sizeof *this));
    close(fd);
    return path;
  }
};
static_assert(sizeof(TinyElf) == sizeof(Elf64_Ehdr) + 2 * sizeof(Elf64_Phdr) + 8);

std::string load_error(const TinyElf& elf) {
  const std::string path = elf.write();
  AddressSpace as(32);
  std::string what;
  try {
    load_elf(as, path);
  } catch (const Error& e) {
    what = e.what();
  }
  unlink(path.c_str());
  return what;
}

TEST(ElfLoader, LoadsSegmentsWithProtection) {
  TinyElf elf;
  const std::string path = elf.write();
  AddressSpace as(32);
  const LoadedImage img = load_elf(as, path);
  unlink(path.c_str());
  EXPECT_EQ(img.entry, elf.eh.e_entry);
  EXPECT_EQ(img.phdr_addr, 0x10000u + sizeof(Elf64_Ehdr));
  EXPECT_EQ(img.phnum, 2);
  EXPECT_EQ(img.brk_start, 0x14000u);
  const uint8_t* code = as.translate(img.entry, 8, riscv::Access::kExec);
  ASSERT_NE(code, nullptr);
  EXPECT_EQ(std::memcmp(code, elf.code, 8), 0);
  EXPECT_EQ(as.translate(img.entry, 8, riscv::Access::kWrite), nullptr);
  // Data: file bytes, then zeroed bss across the next page; the gap page 0x11000 is unmapped.
  EXPECT_NE(as.translate(0x13000, 0x7ff, riscv::Access::kWrite), nullptr);
  EXPECT_EQ(*as.translate(0x12010, 1, riscv::Access::kRead), 0);
  EXPECT_EQ(*as.translate(0x12000, 1, riscv::Access::kRead), 0x7f);  // ELF magic
  EXPECT_EQ(as.translate(0x11000, 1, riscv::Access::kRead), nullptr);
}

TEST(ElfLoader, RejectsBadHeaders) {
  TinyElf e;
  e.eh.e_machine = EM_X86_64;
  EXPECT_NE(load_error(e).find("wrong machine"), std::string::npos);
  e = TinyElf();
  e.eh.e_ident[EI_CLASS] = ELFCLASS32;
  EXPECT_NE(load_error(e).find("64-bit"), std::string::npos);
  e = TinyElf();
  e.eh.e_phoff = 1 << 20;
  EXPECT_NE(load_error(e).find("outside the file"), std::string::npos);
  e = TinyElf();
  e.ph[0].p_filesz = e.ph[0].p_memsz + 1;
  EXPECT_NE(load_error(e).find("file size exceeds"), std::string::npos);
  e = TinyElf();
  e.ph[1].p_offset = 1 << 20;
  EXPECT_NE(load_error(e).find("outside the file"), std::string::npos);
  e = TinyElf();
  e.ph[1].p_vaddr = 0x12008;  // not congruent with offset 0
  EXPECT_NE(load_error(e).find("page-congruent"), std::string::npos);
  e = TinyElf();
  e.eh.e_entry = 0x12000;  // not executable
  EXPECT_NE(load_error(e).find("entry point"), std::string::npos);
  e = TinyElf();
  e.eh.e_phentsize = 40;
  EXPECT_NE(load_error(e).find("e_phentsize"), std::string::npos);
  e = TinyElf();
  e.ph[1].p_vaddr = 0xfffffffffffff000;
  EXPECT_FALSE(load_error(e).empty());
  e = TinyElf();
  e.ph[1].p_type = PT_INTERP;
  e.ph[1].p_offset = 0;
  e.ph[1].p_filesz = 4;
  EXPECT_NE(load_error(e).find("dynamically linked"), std::string::npos);
}

TEST(ElfLoader, InitialStackLayout) {
  AddressSpace as(32);
  const uint64_t top = as.limit();
  ASSERT_EQ(as.map_fixed(top - 0x10000, 0x10000, PROT_READ | PROT_WRITE), 0);
  LoadedImage img;
  img.entry = 0x10078;
  img.phdr_addr = 0x10040;
  img.phnum = 2;
  img.phentsize = 56;
  StackArgs args{{"prog", "arg one"}, {"A=1", "B=2"}, "/path/prog"};
  const uint64_t sp = build_initial_stack(as, top, img, args);
  EXPECT_EQ(sp % 16, 0u);
  auto word = [&](uint64_t addr) {
    uint64_t v;
    as.read_bytes(addr, &v, 8);
    return v;
  };
  auto string_at = [&](uint64_t addr) {
    return std::string(reinterpret_cast<char*>(as.host(addr)));
  };
  EXPECT_EQ(word(sp), 2u);
  EXPECT_EQ(string_at(word(sp + 8)), "prog");
  EXPECT_EQ(string_at(word(sp + 16)), "arg one");
  EXPECT_EQ(word(sp + 24), 0u);
  EXPECT_EQ(string_at(word(sp + 32)), "A=1");
  EXPECT_EQ(string_at(word(sp + 40)), "B=2");
  EXPECT_EQ(word(sp + 48), 0u);
  std::map<uint64_t, uint64_t> aux;
  for (uint64_t a = sp + 56;; a += 16) {
    if (word(a) == AT_NULL) break;
    aux[word(a)] = word(a + 8);
  }
  EXPECT_EQ(aux[AT_PHDR], 0x10040u);
  EXPECT_EQ(aux[AT_PHNUM], 2u);
  EXPECT_EQ(aux[AT_PHENT], 56u);
  EXPECT_EQ(aux[AT_PAGESZ], 4096u);
  EXPECT_EQ(aux[AT_ENTRY], 0x10078u);
  EXPECT_EQ(aux[AT_HWCAP], 0x112du);  // I M A F D C
  EXPECT_EQ(aux[AT_SECURE], 0u);
  EXPECT_EQ(aux[AT_UID], getuid());
  EXPECT_EQ(string_at(aux[AT_EXECFN]), "/path/prog");
  EXPECT_EQ(string_at(aux[AT_PLATFORM]), "riscv64");
  ASSERT_TRUE(aux.count(AT_RANDOM));
  EXPECT_TRUE(as.is_mapped(page_down(aux[AT_RANDOM]), 0x1000));
  EXPECT_TRUE(aux.count(AT_CLKTCK));
}

}  // namespace
}  // namespace tandem::user
