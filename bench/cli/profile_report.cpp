#include "bench/cli/profile_report.h"

#include <algorithm>
#include <cstdio>

#include "kernels/op_class.h"
#include "runtime/error.h"

namespace rosetta::cli {
namespace {

std::string class_name(int category) {
  ROSETTA_CHECK(category >= 0 && category < kernels::kOpClassCount, "profile region of class " << category);
  return kernels::op_class_name(static_cast<kernels::OpClass>(category));
}

double share(double seconds, double wall) { return wall > 0 ? 100.0 * seconds / wall : 0.0; }

}  // namespace

const std::vector<std::string>& profile_class_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (int c = 0; c < kernels::kOpClassCount; ++c) n.push_back(class_name(c));
    n.insert(n.begin() + 3, "conv_backward");  // after the two convolution gradients it stands for
    n.push_back("other");
    n.push_back("gaps");
    return n;
  }();
  return names;
}

nlohmann::json profile_record(const Profiler& profiler, const ProfileMethod& method) {
  ROSETTA_CHECK(profiler.steps() > 0, "a profile of no " << method.unit);
  const double units = double(profiler.steps());
  const double wall = profiler.wall_seconds() / units;
  nlohmann::json classes = nlohmann::json::object();
  for (const std::string& name : profile_class_names()) classes[name] = 0.0;
  nlohmann::json passes = nlohmann::json::object();
  nlohmann::json regions = nlohmann::json::array();
  double covered = 0;
  for (const Profiler::Row& row : profiler.rows()) {
    const double seconds = row.seconds / units;
    const std::string name = class_name(row.category);
    classes[name] = classes[name].get<double>() + seconds;
    const std::string pass = row.pass.empty() ? "(none)" : row.pass;
    passes[pass] = passes.value(pass, 0.0) + seconds;
    covered += seconds;
    regions.push_back({{"name", row.name},
                       {"occurrence", row.occurrence},
                       {"class", name},
                       {"pass", pass},
                       {"calls_per_unit", double(row.calls) / units},
                       {"seconds_per_unit", seconds}});
  }
  classes["gaps"] = std::max(0.0, wall - covered);
  return {{"tool", "rosetta --profile"},
          {"clock", profiler.clock()},
          {"note", method.note},
          {"unit", method.unit},
          {"units", profiler.steps()},
          {"seconds_per_unit", wall},
          {"classes", classes},
          {"passes", passes},
          {"regions", regions}};
}

void print_profile(const nlohmann::json& profile) {
  const double wall = profile["seconds_per_unit"].get<double>();
  const std::string unit = profile["unit"].get<std::string>();
  std::printf("profile: %lld %ss, %s around each op; %s\n", profile["units"].get<long long>(), unit.c_str(),
              profile["clock"].get<std::string>().c_str(), profile["note"].get<std::string>().c_str());
  std::printf("  %-22s %10s %7s\n", "class", ("ms/" + unit).c_str(), "share");
  for (const std::string& name : profile_class_names()) {
    const double s = profile["classes"][name].get<double>();
    if (s > 0 || name == "gaps") std::printf("  %-22s %10.3f %6.1f%%\n", name.c_str(), 1e3 * s, share(s, wall));
  }
  std::printf("  %-22s %10.3f %6.1f%%\n", ("wall per " + unit).c_str(), 1e3 * wall, 100.0);
  std::printf("  %-22s %10s %7s\n", "pass", ("ms/" + unit).c_str(), "share");
  std::vector<std::string> passes;  // in the order the step runs them
  for (const nlohmann::json& r : profile["regions"])
    if (std::find(passes.begin(), passes.end(), r["pass"].get<std::string>()) == passes.end())
      passes.push_back(r["pass"].get<std::string>());
  for (const std::string& pass : passes) {
    const double s = profile["passes"][pass].get<double>();
    std::printf("  %-22s %10.3f %6.1f%%\n", pass.c_str(), 1e3 * s, share(s, wall));
  }
  std::printf("  %-9s %-34s %-17s %10s %7s\n", "pass", "op call (in order)", "class", ("ms/" + unit).c_str(), "share");
  for (const nlohmann::json& r : profile["regions"]) {
    const std::string call = r["name"].get<std::string>() + " #" + std::to_string(r["occurrence"].get<int>());
    const double s = r["seconds_per_unit"].get<double>();
    std::printf("  %-9s %-34s %-17s %10.3f %6.1f%%\n", r["pass"].get<std::string>().c_str(), call.c_str(),
                r["class"].get<std::string>().c_str(), 1e3 * s, share(s, wall));
  }
  std::fflush(stdout);
}

}  // namespace rosetta::cli
