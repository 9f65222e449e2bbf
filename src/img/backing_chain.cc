#include "img/backing_chain.h"

#include <sys/stat.h>

#include <cerrno>

#include "base/error.h"
#include "block/qcow2/backing.h"
#include "block/qcow2/qcow2_image.h"
#include "img/image_source.h"

namespace tandem::img {

std::vector<ChainLayer> backing_chain(const std::string& path, const std::string& format,
                                      bool allow_missing) {
  std::vector<ChainLayer> chain;
  std::string next = path, next_format = format;
  while (true) {
    struct stat st;
    if (::stat(next.c_str(), &st) < 0) {
      if (!chain.empty() && allow_missing && errno == ENOENT) break;
      if (chain.empty()) fail_errno("Could not open '{}'", next);
      fail_errno("Could not open backing file '{}' of '{}'", next, chain.back().path);
    }
    for (const ChainLayer& l : chain) {
      if (l.dev == st.st_dev && l.ino == st.st_ino) {
        std::string loop;
        for (const ChainLayer& c : chain) loop += c.path + " -> ";
        fail("backing file loop: {}{}", loop, next);
      }
    }
    ChainLayer layer{next, resolve_format(next, next_format), st.st_dev, st.st_ino};
    chain.push_back(layer);
    if (layer.format != "qcow2") break;
    qcow2::Qcow2Image::Options options;
    options.read_only = true;
    options.open_backing = false;
    auto image = qcow2::Qcow2Image::open(layer.path, options);
    const qcow2::Header& h = image->header();
    if (h.backing_file.empty()) break;
    next = qcow2::resolve_backing_path(layer.path, h.backing_file);
    next_format = h.backing_format;
  }
  return chain;
}

}  // namespace tandem::img
