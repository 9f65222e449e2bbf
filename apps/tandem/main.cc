// The `tandem` command: one binary, one subcommand per job.
//   tandem run ...   a virtual machine (apps/tandem/run_options.h; QEMU's options work too)
//   tandem user ...  a RISC-V Linux program on this host, like qemu-riscv64
#include <signal.h>

#include <fmt/format.h>

#include <cstdio>
#include <string>
#include <vector>

#include "apps/tandem/img_command.h"
#include "apps/tandem/run_options.h"
#include "apps/tandem/user_command.h"
#include "base/error.h"
#include "base/log.h"
#include "machine/run_machine.h"

namespace {

constexpr const char* kUsage =
    "Usage: tandem <command> [options]\n"
    "\n"
    "Commands:\n"
    "  run    Run a virtual machine (x86-64 on KVM; QEMU's -M/-m/-smp/-kernel/... work)\n"
    "  user   Run a static riscv64 Linux program on this host (like qemu-riscv64)\n"
    "  img    Create, inspect, convert and check disk images (like qemu-img)\n"
    "\n"
    "  tandem run --help     options of a command\n"
    "  tandem --version      version\n";

int run_command(const std::vector<std::string>& args) {
  auto run = tandem::cli::parse_run_options(args);
  if (!run.info.empty()) {
    fmt::print("{}", run.info);
    return 0;
  }
  tandem::init_logging();
  if (!run.config.log_level.empty()) tandem::set_log_level(run.config.log_level);
  // A closed stdout (tandem run ... | head) must not kill the VMM; the console drops output.
  ::signal(SIGPIPE, SIG_IGN);
  return tandem::run_machine(run.config);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (args.empty()) {
      fmt::print(stderr, "{}", kUsage);
      return 1;
    }
    const std::string& command = args[0];
    std::vector<std::string> rest(args.begin() + 1, args.end());
    if (command == "--help" || command == "-h" || command == "help") {
      fmt::print("{}", kUsage);
      return 0;
    }
    if (command == "--version" || command == "-version") {
      fmt::print("tandem {}\n", TANDEM_VERSION);
      return 0;
    }
    if (command == "run") return run_command(rest);
    if (command == "user") {
      tandem::init_logging();
      return tandem::app::user_command(argc - 2, argv + 2);
    }
    if (command == "img") return tandem::app::img_command(rest);
    // Further subcommands dispatch here.
    tandem::fail("unknown command '{}' (see tandem --help)", command);
  } catch (const tandem::Error& e) {
    std::fflush(stdout);
    fmt::print(stderr, "tandem: {}\n", e.what());
    return 1;
  }
}
