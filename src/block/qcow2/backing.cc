#include "block/qcow2/backing.h"

#include <sys/stat.h>

#include <cerrno>

#include "base/error.h"
#include "block/qcow2/format_probe.h"
#include "block/qcow2/qcow2_image.h"
#include "block/raw_file.h"

namespace tandem::qcow2 {

std::string resolve_backing_path(const std::string& image_path, const std::string& backing_name) {
  if (backing_name.starts_with('/')) return backing_name;
  size_t slash = image_path.rfind('/');
  if (slash == std::string::npos) return backing_name;
  return image_path.substr(0, slash + 1) + backing_name;
}

std::unique_ptr<SyncImage> open_backing_image(const std::string& path, const std::string& format,
                                              CacheMode cache, BackingChain& chain) {
  const std::string& above = chain.links.back().path;
  struct stat st;
  if (::stat(path.c_str(), &st) < 0) {
    fail_errno("could not open backing file '{}' of '{}'", path, above);
  }
  for (const BackingChain::Link& link : chain.links) {
    if (link.dev == static_cast<uint64_t>(st.st_dev) &&
        link.ino == static_cast<uint64_t>(st.st_ino)) {
      std::string loop;
      for (const BackingChain::Link& l : chain.links) loop += l.path + " -> ";
      fail("backing file loop: {}{}", loop, path);
    }
  }
  std::string fmt = format.empty() ? probe_image_format(path) : format;
  // Nothing below cache=none needs write ordering; the page cache serves read-only layers well,
  // but O_DIRECT is kept where the user asked for it.
  CacheMode ro_cache = uses_o_direct(cache) ? CacheMode::kNone : CacheMode::kWriteback;
  if (fmt == "raw") {
    RawFile file = open_raw_file(path, true, ro_cache);
    return std::make_unique<RawImage>(ImageFile(path, std::move(file), uses_o_direct(ro_cache)));
  }
  if (fmt == "qcow2") {
    Qcow2Image::Options options;
    options.read_only = true;
    options.cache = ro_cache;
    return Qcow2Image::open(path, options, chain);
  }
  fail("backing file '{}' of '{}' has format '{}', which is not supported (raw or qcow2)", path,
       above, fmt);
}

}  // namespace tandem::qcow2
