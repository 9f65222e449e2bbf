#include "apps/tandem/img_command.h"

#include <signal.h>

#include "base/log.h"
#include "img/img.h"

namespace tandem::app {

int img_command(const std::vector<std::string>& args) {
  tandem::init_logging();
  // `tandem img map ... | head` ends quietly, as qemu-img does.
  ::signal(SIGPIPE, SIG_DFL);
  return img::img_main(args, img::Io{});
}

}  // namespace tandem::app
