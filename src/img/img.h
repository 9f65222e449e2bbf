// `tandem img`: qemu-img's everyday jobs, with its spelling and its output.
//   create, info, convert, check, compare, map, snapshot, resize, commit, rebase
// Each command takes the arguments that follow its name and returns the process exit status;
// bad input throws tandem::Error (img_main turns it into one line on `err`).
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace tandem::img {

struct Io {
  std::FILE* out = stdout;
  std::FILE* err = stderr;
};

using Args = std::vector<std::string>;

int create_command(const Args& args, const Io& io);
int info_command(const Args& args, const Io& io);
int convert_command(const Args& args, const Io& io);
int check_command(const Args& args, const Io& io);
int compare_command(const Args& args, const Io& io);
int map_command(const Args& args, const Io& io);
int snapshot_command(const Args& args, const Io& io);
int resize_command(const Args& args, const Io& io);
int commit_command(const Args& args, const Io& io);
int rebase_command(const Args& args, const Io& io);

// `args` follow "img": the command and its arguments. Errors are printed as "tandem: <message>"
// on io.err; the exit status is 1 for them (2 for compare, as qemu-img).
int img_main(const Args& args, const Io& io);

// The usage text of `tandem img`.
const char* img_usage();

}  // namespace tandem::img
