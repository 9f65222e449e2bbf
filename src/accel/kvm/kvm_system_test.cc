#include "accel/kvm/kvm_system.h"

#include <gtest/gtest.h>

#include "base/error.h"

namespace tandem::kvm {
namespace {

std::string error_of(const std::string& path) {
  try {
    KvmSystem sys(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(KvmSystem, MissingDeviceNodeGivesOneLineHint) {
  std::string msg = error_of("/nonexistent/kvm");
  EXPECT_EQ(msg,
            "cannot open /nonexistent/kvm: No such file or directory (is KVM enabled and are "
            "you in group kvm?)");
}

TEST(KvmSystem, NonKvmDeviceIsRejected) {
  std::string msg = error_of("/dev/null");
  EXPECT_NE(msg.find("/dev/null is not a KVM device"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace tandem::kvm
