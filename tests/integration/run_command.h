// Runs a program with a time limit and collects its output: the integration tests and benchmarks
// use it so that a hung VMM fails a test instead of hanging ctest.
#pragma once

#include <sys/resource.h>

#include <chrono>
#include <string>
#include <vector>

namespace tandem::testing {

struct CommandResult {
  bool started = false;    // false: fork/exec failed (error says why)
  bool timed_out = false;  // killed (with its process group) after the time limit
  bool exited = false;     // WIFEXITED
  int exit_code = -1;      // valid when exited
  int signal = 0;          // terminating signal, 0 if none
  bool core_dumped = false;
  std::string out, err;  // everything written to stdout / stderr
  std::string error;
  double seconds = 0;  // wall time
  rusage usage{};      // of the child (wait4)

  std::string describe() const;  // for test failure messages
};

struct CommandOptions {
  std::string input;  // written to stdin, then stdin is closed
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};
  bool discard_output = false;  // benchmarks: do not keep stdout/stderr
};

// Runs argv[0] (a path) with argv; never throws.
CommandResult run_command(const std::vector<std::string>& argv, const CommandOptions& options = {});

// Splits text into lines, dropping '\r' and a final empty line.
std::vector<std::string> split_lines(const std::string& text);

}  // namespace tandem::testing
