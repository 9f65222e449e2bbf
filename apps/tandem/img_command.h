// `tandem img <command> ...`: qemu-img's everyday jobs (src/img).
#pragma once

#include <string>
#include <vector>

namespace tandem::app {

// args follow "img". Returns the exit status.
int img_command(const std::vector<std::string>& args);

}  // namespace tandem::app
