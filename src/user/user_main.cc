#include "user/user_main.h"

#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "base/error.h"
#include "target/riscv/cpu_state.h"
#include "user/address_space.h"
#include "user/elf_loader.h"
#include "user/process.h"
#include "user/syscall_table.h"

extern char** environ;

namespace tandem::user {
namespace {

constexpr uint64_t kStackSize = 8ull << 20;  // like the default RLIMIT_STACK
constexpr uint64_t kStackGap = 1ull << 20;   // unmapped guard between mmap area and stack

const char kUsage[] =
    "usage: tandem user [options] program [arguments...]\n"
    "Runs a static riscv64 Linux program.\n"
    "  --interp        use the interpreter (the reference implementation)\n"
    "  -strace         log system calls and their results to stderr\n"
    "  -d item,...     trace: in_asm, exec, cpu\n"
    "  -D file         write -d traces to file\n"
    "  -E var=value    set an environment variable for the program\n"
    "  -U var          remove an environment variable\n"
    "  -0 argv0        use argv0 as the program's argv[0]\n"
    "  -L path         accepted for compatibility and ignored (static programs only)\n";

struct Options {
  bool interp = false;
  bool strace = false;
  riscv::TraceOptions trace;
  std::string log_file;
  std::vector<std::string> env_set, env_unset;
  std::string argv0;
  bool has_argv0 = false;
  std::vector<std::string> program;  // path and arguments
};

Options parse(int argc, char** argv) {
  Options o;
  int i = 0;
  auto value = [&](const std::string& opt) -> std::string {
    if (i + 1 >= argc) fail("option {} needs a value", opt);
    return argv[++i];
  };
  for (; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a.empty() || a[0] != '-') break;
    if (a == "--interp" || a == "-interp") {
      o.interp = true;
    } else if (a == "-strace" || a == "--strace") {
      o.strace = true;
    } else if (a == "-d") {
      std::string items = value(a);
      size_t start = 0;
      while (start <= items.size()) {
        const size_t comma = std::min(items.find(',', start), items.size());
        const std::string item = items.substr(start, comma - start);
        if (item == "in_asm") {
          o.trace.in_asm = true;
        } else if (item == "exec") {
          o.trace.exec = true;
        } else if (item == "cpu") {
          o.trace.cpu = true;
        } else if (!item.empty()) {
          fail("unknown -d item '{}' (known: in_asm, exec, cpu)", item);
        }
        start = comma + 1;
      }
    } else if (a == "-D") {
      o.log_file = value(a);
    } else if (a == "-E") {
      o.env_set.push_back(value(a));
    } else if (a == "-U") {
      o.env_unset.push_back(value(a));
    } else if (a == "-0") {
      o.argv0 = value(a);
      o.has_argv0 = true;
    } else if (a == "-L") {
      value(a);
      fmt::print(stderr, "tandem: note: -L is ignored (only static programs are supported)\n");
    } else if (a == "-h" || a == "--help" || a == "-help") {
      fmt::print("{}", kUsage);
      std::exit(0);
    } else {
      fail("unknown option '{}' (see tandem user --help)", a);
    }
  }
  for (; i < argc; ++i) o.program.push_back(argv[i]);
  if (o.program.empty()) fail("no program given (see tandem user --help)");
  return o;
}

std::vector<std::string> build_env(const Options& o) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) env.push_back(*e);
  auto remove = [&](const std::string& name) {
    std::erase_if(env, [&](const std::string& kv) {
      return kv.compare(0, name.size(), name) == 0 && kv.size() > name.size() &&
             kv[name.size()] == '=';
    });
  };
  for (const std::string& u : o.env_unset) remove(u);
  for (const std::string& s : o.env_set) {
    const size_t eq = s.find('=');
    if (eq == std::string::npos) fail("-E needs var=value, got '{}'", s);
    remove(s.substr(0, eq));
    env.push_back(s);
  }
  return env;
}

int run(int argc, char** argv, const EngineFactory* translator) {
  const Options o = parse(argc, argv);
  FILE* log = stderr;
  if (!o.log_file.empty()) {
    log = std::fopen(o.log_file.c_str(), "w");
    if (!log) fail_errno("{}", o.log_file);
  }
  riscv::TraceOptions trace = o.trace;
  trace.log = log;

  AddressSpace as;
  const std::string& path = o.program[0];
  const LoadedImage image = load_elf(as, path);

  const uint64_t stack_top = as.limit();
  const uint64_t stack_bottom = stack_top - kStackSize;
  if (as.map_fixed(stack_bottom, kStackSize, PROT_READ | PROT_WRITE) != 0) {
    fail("cannot map the guest stack");
  }
  StackArgs args;
  args.argv = std::vector<std::string>(o.program.begin(), o.program.end());
  if (o.has_argv0) args.argv[0] = o.argv0;
  args.envp = build_env(o);
  args.execfn = path;
  const uint64_t sp = build_initial_stack(as, stack_top, image, args);

  riscv::CpuState cpu;
  cpu.pc = image.entry;
  cpu.x[2] = sp;
  cpu.guest_base = as.base();
  cpu.guest_limit = as.limit();

  std::unique_ptr<riscv::ExecutionEngine> engine;
  if (translator && *translator && !o.interp) {
    engine = (*translator)(as, trace);
  } else {
    engine = riscv::make_interpreter_engine(as, trace);
  }

  UserProcess p;
  p.as = &as;
  p.cpu = &cpu;
  p.engine = engine.get();
  p.brk_start = p.brk_cur = image.brk_start;
  p.mmap_top = stack_bottom - kStackGap;
  char real[PATH_MAX];
  p.exe_path = ::realpath(path.c_str(), real) ? real : path;
  p.strace = o.strace;
  p.log = log;
  init_signals(p, p.mmap_top);

  for (;;) {
    // Signals are taken at instruction boundaries: after a system call (which may have sent
    // one, unblocked one, or been interrupted by one) and whenever the engine stops.
    deliver_pending_signals(p);
    const riscv::ExitInfo e = engine->run(cpu);
    switch (e.kind) {
      case riscv::ExitKind::kEcall: {
        ++cpu.instret;
        if (cpu.x[17] == kSys_rt_sigreturn) {
          do_rt_sigreturn(p);  // sets every register, pc included
          break;
        }
        const uint64_t orig_a0 = cpu.x[10];
        do_syscall(p);
        cpu.pc += 4;
        if (static_cast<int64_t>(cpu.x[10]) == -EINTR) {
          p.signals.interrupted = true;
          p.signals.interrupted_nr = static_cast<int>(cpu.x[17]);
          p.signals.orig_a0 = orig_a0;
        }
        break;
      }
      case riscv::ExitKind::kEbreak:
        force_signal(p, SIGTRAP, TRAP_BRKPT, cpu.pc);
        break;
      case riscv::ExitKind::kIllegalInstruction:
        if (p.signals.actions[SIGILL].handler <= 1) {
          fmt::print(stderr, "tandem: illegal instruction 0x{:x} at pc 0x{:x}\n", e.info, cpu.pc);
        }
        force_signal(p, SIGILL, ILL_ILLOPC, cpu.pc);
        break;
      case riscv::ExitKind::kLoadFault:
      case riscv::ExitKind::kStoreFault:
      case riscv::ExitKind::kFetchFault:
        // Mapped but not permitted (a write to read-only memory, ...) vs. not mapped at all.
        force_signal(p, SIGSEGV,
                     (as.page_prot(e.info) & AddressSpace::kMapped) ? SEGV_ACCERR : SEGV_MAPERR,
                     e.info);
        break;
      case riscv::ExitKind::kMisaligned:
        force_signal(p, SIGBUS, BUS_ADRALN, e.info);
        break;
      case riscv::ExitKind::kFenceI:
        engine->invalidate_code(0, UINT64_MAX);
        break;
      case riscv::ExitKind::kInterrupted:
      case riscv::ExitKind::kColdCode:  // user mode translates everything at first sight
        break;
    }
  }
}

}  // namespace

int user_main(int argc, char** argv) {
  try {
    return run(argc, argv, nullptr);
  } catch (const Error& e) {
    fmt::print(stderr, "tandem: {}\n", e.what());
    return 1;
  }
}

int user_main(int argc, char** argv, const EngineFactory& translator) {
  try {
    return run(argc, argv, &translator);
  } catch (const Error& e) {
    fmt::print(stderr, "tandem: {}\n", e.what());
    return 1;
  }
}

}  // namespace tandem::user
