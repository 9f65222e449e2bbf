// `tandem user`: user-mode emulation (src/user) with the binary translator (src/accel/tcg) as the
// default engine; `--interp` selects the reference interpreter. Takes the translator's own -d
// items (op, op_opt, out_asm, pin, nochain) and options, and passes everything else to user_main.
#include "apps/tandem/user_command.h"

#include <cstring>
#include <string>
#include <vector>

#include "accel/tcg/engine.h"
#include "user/user_main.h"

namespace tandem::app {

int user_command(int argc, char** argv) {
  tandem::tcg::TcgOptions opts;
  std::vector<std::string> args;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-d" && i + 1 < argc) {
      std::string items = argv[++i], rest;
      size_t start = 0;
      while (start <= items.size()) {
        size_t comma = std::min(items.find(',', start), items.size());
        std::string item = items.substr(start, comma - start);
        if (item == "op") {
          opts.trace_op = true;
        } else if (item == "op_opt") {
          opts.trace_op_opt = true;
        } else if (item == "out_asm") {
          opts.trace_out_asm = true;
        } else if (item == "pin") {
          opts.trace_pin = true;
        } else if (item == "nochain") {
          opts.chain = false;
          opts.jump_cache = false;
        } else if (!item.empty()) {
          rest += (rest.empty() ? "" : ",") + item;
        }
        start = comma + 1;
      }
      if (!rest.empty()) {
        args.push_back("-d");
        args.push_back(rest);
      }
      continue;
    }
    if (a == "--no-opt") {
      opts.opt = tandem::tcg::OptFlags::none();
      continue;
    }
    if (a == "--no-instret") {  // rdinstret/rdcycle then only count dispatcher-visible work
      opts.count_instret = false;
      continue;
    }
    if (a == "--no-pin") {  // guest registers live in CpuState only (for comparisons)
      opts.pin_globals = false;
      continue;
    }
    if (a == "--no-smc-protect") {
      opts.smc_protect = false;
      continue;
    }
    args.push_back(a);
    if (!a.empty() && a[0] != '-') {  // the program: the rest are its arguments
      for (++i; i < argc; ++i) args.push_back(argv[i]);
      break;
    }
    if (a == "-D" || a == "-E" || a == "-U" || a == "-0" || a == "-L") {
      if (i + 1 < argc) args.push_back(argv[++i]);
    }
  }
  std::vector<char*> cargs;
  for (std::string& s : args) cargs.push_back(s.data());
  cargs.push_back(nullptr);
  tandem::user::EngineFactory factory = [opts](tandem::riscv::GuestMemory& mem,
                                               const tandem::riscv::TraceOptions& trace) {
    return tandem::tcg::make_tcg_engine(mem, trace, opts);
  };
  return tandem::user::user_main(static_cast<int>(args.size()), cargs.data(), factory);
}

}  // namespace tandem::app
