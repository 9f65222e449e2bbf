// -d out_asm: host code disassembled with capstone. libcapstone is opened with dlopen the first
// time a trace needs it: linked normally, its relocated tables cost every Tandem process about
// 3 MiB of resident memory, while only traces use it.
#include <capstone/capstone.h>
#include <dlfcn.h>
#include <fmt/format.h>

#include <mutex>
#include <string>

#include "accel/tcg/engine.h"

namespace tandem::tcg {
namespace {

struct Capstone {
  decltype(&cs_open) open = nullptr;
  decltype(&cs_disasm) disasm = nullptr;
  decltype(&cs_free) free = nullptr;
  decltype(&cs_close) close = nullptr;
  std::string error;
};

const Capstone& capstone() {
  static Capstone cs;
  static std::once_flag once;
  std::call_once(once, [] {
    void* lib = ::dlopen(TANDEM_CAPSTONE_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      cs.error = fmt::format("(capstone unavailable: {})\n", ::dlerror());
      return;
    }
    cs.open = reinterpret_cast<decltype(&cs_open)>(::dlsym(lib, "cs_open"));
    cs.disasm = reinterpret_cast<decltype(&cs_disasm)>(::dlsym(lib, "cs_disasm"));
    cs.free = reinterpret_cast<decltype(&cs_free)>(::dlsym(lib, "cs_free"));
    cs.close = reinterpret_cast<decltype(&cs_close)>(::dlsym(lib, "cs_close"));
    if (!cs.open || !cs.disasm || !cs.free || !cs.close) {
      cs.error = "(capstone unavailable: missing symbols)\n";
    }
  });
  return cs;
}

}  // namespace

std::string disassemble_host(const uint8_t* code, size_t size) {
  const Capstone& cs = capstone();
  if (!cs.error.empty()) return cs.error;
  csh handle;
  if (cs.open(CS_ARCH_X86, CS_MODE_64, &handle) != CS_ERR_OK) return "(capstone unavailable)\n";
  cs_insn* insn = nullptr;
  size_t n = cs.disasm(handle, code, size, reinterpret_cast<uint64_t>(code), 0, &insn);
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += fmt::format("0x{:012x}:  {:<8} {}\n", insn[i].address, insn[i].mnemonic, insn[i].op_str);
  }
  if (n) cs.free(insn, n);
  cs.close(&handle);
  return out;
}

}  // namespace tandem::tcg
