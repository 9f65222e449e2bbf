// tandem img check [-f fmt] [-r leaks|all] [--output=human|json] [-q] [-U] filename
//
// Exit status as qemu-img's: 0 clean, 1 the check could not be done, 2 corruptions, 3 leaks
// only, 63 the format has no check (raw).
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "img/image_source.h"
#include "img/img.h"
#include "img/options.h"
#include "img/qcow2_check.h"

namespace tandem::img {

namespace {

enum { kFormat, kRepair, kOutput, kQuiet, kForceShare, kHelp };
constexpr OptionSpec kSpec[] = {
    {'f', nullptr, true, kFormat},
    {'r', "repair", true, kRepair},
    {0, "output", true, kOutput},
    {'q', nullptr, false, kQuiet},
    {'U', "force-share", false, kForceShare},
    {'h', "help", false, kHelp},
};

void print_human(const CheckResult& r, std::FILE* out) {
  if (r.corruptions == 0 && r.leaks == 0 && r.check_errors == 0) {
    fmt::print(out, "No errors were found on the image.\n");
  } else {
    if (r.corruptions) {
      fmt::print(out,
                 "\n{} errors were found on the image.\n"
                 "Data may be corrupted, or further writes to the image may corrupt it.\n",
                 r.corruptions);
    }
    if (r.leaks) {
      fmt::print(out,
                 "\n{} leaked clusters were found on the image.\n"
                 "This means waste of disk space, but no harm to data.\n",
                 r.leaks);
    }
    if (r.check_errors) {
      fmt::print(out, "\n{} internal errors have occurred during the check.\n", r.check_errors);
    }
  }
  if (r.total_clusters != 0 && r.allocated_clusters != 0) {
    auto pct = [](uint64_t a, uint64_t b) {
      return b ? 100.0 * static_cast<double>(a) / static_cast<double>(b) : 0.0;
    };
    fmt::print(out, "{}/{} = {:.2f}% allocated, {:.2f}% fragmented, {:.2f}% compressed clusters\n",
               r.allocated_clusters, r.total_clusters, pct(r.allocated_clusters, r.total_clusters),
               pct(r.fragmented_clusters, r.allocated_clusters),
               pct(r.compressed_clusters, r.allocated_clusters));
  }
  if (r.image_end_offset > 0) fmt::print(out, "Image end offset: {}\n", r.image_end_offset);
}

void print_json(const CheckResult& r, const std::string& filename, std::FILE* out) {
  // qemu-img's key order.
  nlohmann::ordered_json j;
  if (r.image_end_offset) j["image-end-offset"] = r.image_end_offset;
  if (r.compressed_clusters) j["compressed-clusters"] = r.compressed_clusters;
  if (r.total_clusters) j["total-clusters"] = r.total_clusters;
  if (r.corruptions) j["corruptions"] = r.corruptions;
  j["check-errors"] = r.check_errors;
  if (r.leaks) j["leaks"] = r.leaks;
  if (r.corruptions_fixed) j["corruptions-fixed"] = r.corruptions_fixed;
  if (r.leaks_fixed) j["leaks-fixed"] = r.leaks_fixed;
  if (r.allocated_clusters) j["allocated-clusters"] = r.allocated_clusters;
  j["filename"] = filename;
  j["format"] = "qcow2";
  if (r.fragmented_clusters) j["fragmented-clusters"] = r.fragmented_clusters;
  fmt::print(out, "{}\n", j.dump(4));
}

}  // namespace

int check_command(const Args& args, const Io& io) {
  ParsedArgs parsed = parse_args("check", args, kSpec);
  std::string format, output = "human";
  unsigned fix = kFixNone;
  bool quiet = false;
  for (const auto& [id, value] : parsed.options) {
    switch (id) {
      case kFormat:
        format = value;
        break;
      case kRepair:
        if (value == "leaks") {
          fix = kFixLeaks;
        } else if (value == "all") {
          fix = kFixLeaks | kFixErrors;
        } else {
          fail("check: Unknown option value for -r (expecting 'leaks' or 'all'): {}", value);
        }
        break;
      case kOutput:
        output = value;
        break;
      case kQuiet:
        quiet = true;
        break;
      case kForceShare:
        if (fix) fail("check: --force-share/-U is not allowed with -r");
        break;
      case kHelp:
        std::fputs(
            "usage: tandem img check [-f fmt] [-r leaks|all] [--output=human|json] [-q] "
            "filename\n",
            io.out);
        return 0;
    }
  }
  if (output != "human" && output != "json") {
    fail("check: --output must be used with human or json as argument.");
  }
  if (parsed.positional.size() != 1) fail("check: Expecting one image file name");
  const std::string& path = parsed.positional[0];
  if (resolve_format(path, format) != "qcow2") {
    fmt::print(io.err, "tandem: This image format does not support checks\n");
    return 63;
  }

  CheckResult r = check_qcow2(path, fix, io.err);
  if (r.corruptions_fixed || r.leaks_fixed) {
    if (output == "human" && !quiet) {
      fmt::print(io.out,
                 "The following inconsistencies were found and repaired:\n\n"
                 "    {} leaked clusters\n    {} corruptions\n\n"
                 "Double checking the fixed image now...\n",
                 r.leaks_fixed, r.corruptions_fixed);
      std::fflush(io.out);
    }
    CheckResult again = check_qcow2(path, kFixNone, io.err);
    again.leaks_fixed = r.leaks_fixed;
    again.corruptions_fixed = r.corruptions_fixed;
    r = again;
  }
  if (!quiet || output == "json") {
    if (output == "json") {
      print_json(r, path, io.out);
    } else {
      print_human(r, io.out);
    }
  }
  if (r.check_errors) return 1;
  if (r.corruptions) return 2;
  if (r.leaks) return 3;
  return 0;
}

}  // namespace tandem::img
