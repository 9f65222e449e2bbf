// tandem img snapshot [-q] [-U] [-l | -a snapshot | -c snapshot | -d snapshot] filename
//
// As qemu-img 7.2: -a finds the snapshot by ID, then by name; -d by name only; -l prints
// nothing for an image without snapshots (or a raw image). One difference: -c refuses a name
// that is taken (qemu-img would add a second snapshot of that name, which -a and -d could then
// not tell apart).
#include <time.h>

#include <fmt/format.h>

#include <algorithm>

#include "base/error.h"
#include "block/qcow2/qcow2_image.h"
#include "img/image_source.h"
#include "img/img.h"
#include "img/options.h"
#include "img/snapshot_table.h"

namespace tandem::img {

namespace {

enum { kList, kApply, kCreate, kDelete, kQuiet, kForceShare, kHelp };
constexpr OptionSpec kSpec[] = {
    {'l', nullptr, false, kList},  {'a', nullptr, true, kApply},
    {'c', nullptr, true, kCreate}, {'d', nullptr, true, kDelete},
    {'q', nullptr, false, kQuiet}, {'U', "force-share", false, kForceShare},
    {'h', "help", false, kHelp},
};

constexpr const char* kHelpText =
    "usage: tandem img snapshot [-q] [-U] [-l | -a snapshot | -c snapshot | -d snapshot] "
    "filename\n"
    "Lists (-l), creates (-c), applies (-a) or deletes (-d) internal snapshots of a qcow2 "
    "image.\n";

std::unique_ptr<qcow2::Qcow2Image> open_qcow2(const std::string& path, bool read_only) {
  qcow2::Qcow2Image::Options options;
  options.read_only = read_only;
  return qcow2::Qcow2Image::open(path, options);
}

// The snapshot -a means: by ID first, then by name (QEMU's order).
const qcow2::SnapshotEntry* find_for_apply(const std::vector<qcow2::SnapshotEntry>& list,
                                           const std::string& key) {
  for (const auto& s : list) {
    if (s.id == key) return &s;
  }
  for (const auto& s : list) {
    if (s.name == key) return &s;
  }
  return nullptr;
}

}  // namespace

int snapshot_command(const Args& args, const Io& io) {
  ParsedArgs parsed = parse_args("snapshot", args, kSpec);
  int action = -1;
  std::string name;
  bool force_share = false;
  for (const auto& [id, value] : parsed.options) {
    switch (id) {
      case kList:
      case kApply:
      case kCreate:
      case kDelete:
        if (action != -1) fail("snapshot: Cannot mix '-l', '-a', '-c', '-d'");
        action = id;
        name = value;
        break;
      case kQuiet:  // nothing is printed on success anyway
        break;
      case kForceShare:
        force_share = true;
        break;
      case kHelp:
        std::fputs(kHelpText, io.out);
        return 0;
    }
  }
  if (parsed.positional.size() != 1) fail("snapshot: Expecting one image file name");
  if (force_share && action != kList && action != -1) {
    fail("snapshot: --force-share/-U can only be used with -l");
  }
  const std::string& path = parsed.positional[0];
  std::string format = resolve_format(path, "");
  if (action == -1) return 0;  // qemu-img does nothing either

  if (format != "qcow2") {
    if (action == kList) return 0;  // a raw image has no snapshots to list
    const char* verb = action == kCreate ? "create" : action == kApply ? "apply" : "delete";
    fail("Could not {} snapshot '{}': -95 (Operation not supported)", verb, name);
  }

  if (action == kList) {
    auto image = open_qcow2(path, true);
    std::vector<qcow2::SnapshotEntry> list = image->snapshots();
    if (list.empty()) return 0;
    std::string text = "Snapshot list:\n" + snapshot_header_line() + "\n";
    for (const auto& s : list) text += snapshot_line(s) + "\n";
    std::fputs(text.c_str(), io.out);
    return 0;
  }

  auto image = open_qcow2(path, false);
  switch (action) {
    case kCreate: {
      timespec now{};
      ::clock_gettime(CLOCK_REALTIME, &now);
      try {
        // Microseconds, as QEMU takes the time.
        image->create_snapshot(name, static_cast<uint32_t>(now.tv_sec),
                               static_cast<uint32_t>(now.tv_nsec / 1000 * 1000));
      } catch (const Error& e) {
        fail("Could not create snapshot '{}': {}", name, e.what());
      }
      break;
    }
    case kApply: {
      std::vector<qcow2::SnapshotEntry> list = image->snapshots();
      const qcow2::SnapshotEntry* s = find_for_apply(list, name);
      if (!s) {
        fail("Could not apply snapshot '{}': Failed to load snapshot: No such file or directory",
             name);
      }
      try {
        image->apply_snapshot(s->id);
      } catch (const Error& e) {
        fail("Could not apply snapshot '{}': {}", name, e.what());
      }
      break;
    }
    case kDelete: {
      std::vector<qcow2::SnapshotEntry> list = image->snapshots();
      auto it = std::find_if(list.begin(), list.end(),
                             [&](const qcow2::SnapshotEntry& s) { return s.name == name; });
      if (it == list.end()) fail("Could not delete snapshot '{}': snapshot not found", name);
      try {
        image->delete_snapshot(it->id);
      } catch (const Error& e) {
        fail("Could not delete snapshot '{}': {}", name, e.what());
      }
      break;
    }
  }
  return 0;
}

}  // namespace tandem::img
