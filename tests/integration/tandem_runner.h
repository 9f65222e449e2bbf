// Shared set-up for the integration tests: where the tandem binary and the guests are, a
// temporary directory, and a few helpers.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/integration/run_command.h"

namespace tandem::testing {

// TANDEM_BIN in the environment overrides the binary found at build time.
inline std::string tandem_binary() {
  const char* env = std::getenv("TANDEM_BIN");
  return env && *env ? env : TANDEM_BIN;
}
// TANDEM_X86_GUEST_DIR in the environment overrides where the guest images are.
inline std::string guest_image(const std::string& name) {
  const char* env = std::getenv("TANDEM_X86_GUEST_DIR");
  return std::string(env && *env ? env : TANDEM_X86_GUEST_DIR) + "/" + name;
}

// The exit status isa-debug-exit produces for the guests' EXIT_OK (0x10).
inline constexpr int kGuestSuccess = (0x10 << 1) | 1;
inline constexpr int kGuestCheckFailed = (0x11 << 1) | 1;

inline uint32_t crc32_ieee(const std::string& data) {
  uint32_t crc = ~0u;
  for (unsigned char c : data) {
    crc ^= c;
    for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
  }
  return ~crc;
}

class TandemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(tandem_binary()))
      GTEST_FAIL() << "tandem binary not built: " << tandem_binary();
    char tmpl[] = "/tmp/tandem-it-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  static bool have_kvm() { return ::access("/dev/kvm", R_OK | W_OK) == 0; }

  std::string write_file(const std::string& name, const std::string& content) {
    std::string path = dir_ + "/" + name;
    FILE* f = std::fopen(path.c_str(), "wb");
    EXPECT_NE(f, nullptr);
    if (f) {
      std::fwrite(content.data(), 1, content.size(), f);
      std::fclose(f);
    }
    return path;
  }

  CommandResult tandem(std::vector<std::string> args, const CommandOptions& options = {}) {
    args.insert(args.begin(), tandem_binary());
    return run_command(args, options);
  }

  std::string dir_;
};

}  // namespace tandem::testing
