#include "reports/junit_report.hpp"

#include <fmt/format.h>
#include <vector>

#include "reports/render_util.hpp"

namespace cutover::reports {
namespace {

using nlohmann::json;
using namespace render;

struct Case {
  std::string name;
  double time_s = 0;
  bool failed = false;
  std::string type;     // failure type
  std::string message;  // failure message attribute
  std::string body;     // failure text
};

std::vector<Case> expectationCases(const json& report) {
  std::vector<Case> cases;
  const auto& checks = path(report, "verdict.expectations");
  if (checks.is_array() && !checks.empty()) {
    for (const auto& c : checks) {
      Case k{"expect " + str(c, "name", "?"), 0, !flag(c, "passed", false), "expectation", "", ""};
      if (k.failed) {
        k.message = str(c, "message");
        if (k.message.empty())
          k.message = fmt::format("{}: measured {}, expected {}", str(c, "name"), str(c, "measured"), str(c, "expected"));
        k.body = k.message;
      }
      cases.push_back(std::move(k));
    }
    return cases;
  }
  for (const auto& f : strings(report, "verdict.failures")) {
    const auto colon = f.find(':');
    cases.push_back({"expect " + (colon == std::string::npos ? f : f.substr(0, colon)), 0, true, "expectation", f, f});
  }
  if (cases.empty()) cases.push_back({"expectations", 0, false, "", "", ""});
  return cases;
}

Case validityCase(const json& report) {
  Case v{"run validity", num(report, "scenario.duration_s"), !flag(report, "verdict.valid", false), "invalid_run", "",
         ""};
  if (v.failed) {
    const auto reasons = strings(report, "verdict.invalid_reasons");
    v.message = reasons.empty() ? "the run is invalid" : "the run is invalid: " + reasons.front();
    for (const auto& r : reasons) v.body += "- " + r + "\n";
    v.body += fmt::format("sent {} of {} intended requests", count(report, "summary.sent"),
                          count(report, "summary.intended"));
  }
  return v;
}

}  // namespace

std::string renderJunit(const json& report) {
  std::vector<Case> cases{validityCase(report)};
  for (auto& c : expectationCases(report)) cases.push_back(std::move(c));
  std::size_t failures = 0;
  for (const auto& c : cases) failures += c.failed ? 1 : 0;
  const auto name = str(report, "scenario.name", "unnamed");
  const auto time = fixed(num(report, "scenario.duration_s"), 3);
  const auto started = str(report, "scenario.started_utc");
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += fmt::format("<testsuites name=\"cutover\" tests=\"{}\" failures=\"{}\" errors=\"0\" time=\"{}\">\n",
                     cases.size(), failures, time);
  out += fmt::format(
      "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"0\" time=\"{}\"{}>\n",
      xmlText(name), cases.size(), failures, time,
      // A simulated run has no wall-clock start (its report is a function of
      // file and seed): no timestamp, rather than an empty one.
      started.empty() ? std::string() : " timestamp=\"" + xmlText(started) + "\"");
  out += "    <properties>\n";
  for (const auto* key : {"scenario.file", "scenario.mode", "scenario.seed", "summary.final_active"})
    out += fmt::format("      <property name=\"{}\" value=\"{}\"/>\n", key, xmlText(str(report, key)));
  out += fmt::format("      <property name=\"verdict\" value=\"{}\"/>\n", verdictWord(report));
  out += fmt::format("      <property name=\"summary.sent\" value=\"{}\"/>\n", count(report, "summary.sent"));
  out += fmt::format("      <property name=\"summary.dropped\" value=\"{}\"/>\n", count(report, "summary.dropped"));
  out += "    </properties>\n";
  const auto classname = "cutover." + xmlText(name);
  for (const auto& c : cases) {
    out += fmt::format("    <testcase name=\"{}\" classname=\"{}\" time=\"{}\"", xmlText(c.name), classname,
                       fixed(c.time_s, 3));
    if (!c.failed) {
      out += "/>\n";
      continue;
    }
    out += fmt::format(">\n      <failure type=\"{}\" message=\"{}\">{}</failure>\n    </testcase>\n", c.type,
                       xmlText(c.message), xmlText(c.body));
  }
  out += "  </testsuite>\n</testsuites>\n";
  return out;
}

}  // namespace cutover::reports
