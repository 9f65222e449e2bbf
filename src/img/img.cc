#include "img/img.h"

#include <fmt/format.h>

#include "base/error.h"
#include "img/log_capture.h"

namespace tandem::img {

namespace {

struct Command {
  const char* name;
  int (*run)(const Args&, const Io&);
  int error_status;  // exit status for an error (qemu-img compare uses 2)
};

constexpr Command kCommands[] = {
    {"create", create_command, 1},     {"info", info_command, 1},
    {"convert", convert_command, 1},   {"check", check_command, 1},
    {"compare", compare_command, 2},   {"map", map_command, 1},
    {"snapshot", snapshot_command, 1}, {"resize", resize_command, 1},
    {"commit", commit_command, 1},     {"rebase", rebase_command, 1},
};

}  // namespace

const char* img_usage() {
  return "usage: tandem img <command> [options] (qemu-img's spelling)\n"
         "\n"
         "Commands:\n"
         "  create  [-q] [-f fmt] [-b backing_file -F backing_fmt] [-u] [-o options] filename "
         "[size]\n"
         "  info    [-f fmt] [--output=human|json] [--backing-chain] [-U] filename\n"
         "  convert [-f fmt] [-O output_fmt] [-c] [-o options] [-p] [-q] [-S sparse_size] "
         "[-U] filename output_filename\n"
         "  check   [-f fmt] [-r leaks|all] [--output=human|json] [-q] filename\n"
         "  compare [-f fmt] [-F fmt] [-p] [-q] [-s] [-U] filename1 filename2\n"
         "  map     [-f fmt] [--output=human|json] [--start-offset=N] [--max-length=N] [-U] "
         "filename\n"
         "  snapshot [-q] [-U] [-l | -a snapshot | -c snapshot | -d snapshot] filename\n"
         "  resize  [-f fmt] [--shrink] [-q] filename [+|-]size\n"
         "  commit  [-q] [-f fmt] [-b base] [-d] [-p] filename\n"
         "  rebase  [-q] [-f fmt] [-p] [-u] -b backing_file [-F backing_fmt] filename\n"
         "\n"
         "Formats: raw, qcow2. Sizes take k, M, G, T, P or E suffixes.\n";
}

int img_main(const Args& args, const Io& io) {
  if (args.empty()) {
    std::fputs(img_usage(), io.err);
    return 1;
  }
  const std::string& name = args[0];
  if (name == "--help" || name == "-h" || name == "help") {
    std::fputs(img_usage(), io.out);
    return 0;
  }
  Args rest(args.begin() + 1, args.end());
  LogCapture capture;
  for (const Command& c : kCommands) {
    if (name != c.name) continue;
    try {
      return c.run(rest, io);
    } catch (const Error& e) {
      std::fflush(io.out);
      fmt::print(io.err, "tandem: {}\n", e.what());
      return c.error_status;
    } catch (const std::bad_alloc&) {
      std::fflush(io.out);
      fmt::print(io.err, "tandem: img {}: out of memory\n", name);
      return c.error_status;
    }
  }
  fmt::print(io.err, "tandem: img: unknown command '{}' (see tandem img --help)\n", name);
  return 1;
}

}  // namespace tandem::img
