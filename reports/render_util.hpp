#pragma once
// Shared helpers of the report renderers (junit, markdown, html): tolerant
// reads of a report.json document (a missing or mistyped key gives the
// default, never an exception: a report of an interrupted run may lack keys),
// escaping for each output language, and fixed number formats so that the
// same report.json always renders to the same bytes.
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/core/result.hpp"

namespace cutover::reports::render {

using nlohmann::json;

// j[key] when j is an object holding key; a null json otherwise.
const json& at(const json& j, std::string_view key);
// j at a dotted path ("summary.latency.p99_ms"); null when any part is missing.
const json& path(const json& j, std::string_view dotted);
std::string str(const json& j, std::string_view dotted, std::string fallback = "");
double num(const json& j, std::string_view dotted, double fallback = 0);
std::uint64_t count(const json& j, std::string_view dotted);
bool has(const json& j, std::string_view dotted);  // present and not null
bool flag(const json& j, std::string_view dotted, bool fallback = false);
std::vector<std::string> strings(const json& j, std::string_view dotted);

// "PASS", "FAIL" or "INVALID" from verdict.valid / verdict.passed.
std::string verdictWord(const json& report);

// Escapes & < > " ' (text and attribute values of XML and HTML).
std::string xmlEscape(std::string_view s);
// xmlEscape plus removal of characters XML 1.0 forbids (C0 controls but tab, LF, CR).
std::string xmlText(std::string_view s);
// One Markdown table cell or inline text: escapes the characters GitHub
// Markdown would interpret (| \ ` * _ [ ] < > & #) and folds newlines.
std::string mdEscape(std::string_view s);

// Fixed formats: "%.*f" without locale; integers without separators.
std::string fixed(double v, int decimals);
// Milliseconds for humans: "0.35 ms", "12.3 ms", "1.70 s".
std::string millis(double ms);
std::string seconds(double s);  // "2.500 s"

// Under 100 responses, a nearest-rank p99 is the slowest of them: the
// summaries say so ("37 responses: p99 is the slowest"); "" from 100 on.
// fewResponsesNote puts it in parentheses after a figure.
inline constexpr std::uint64_t kFewResponses = 100;
std::string fewResponses(std::uint64_t responses);
std::string fewResponsesNote(std::uint64_t responses);

// " · started 2026-11-28T00:54:01Z", or "" for a simulated run (no
// wall-clock start: its report is a function of the file and the seed).
std::string startedPart(const json& report);

// An instance that exited before the run's end (t_s < its duration, not the end-of-run stops):
// the summaries list them, since a 0 dropped can hide a crash that the
// switcher's retries covered.
struct ExitSeen {
  std::string id;    // blue-1
  std::string exit;  // "signal 9", "code 0"
  double t_s = 0;
};
// "blue-1 signal 9 at 2.003 s, blue-2 code 0 at 4.000 s": by time (then id),
// at most `limit`, then "and N more"; "" when none.
std::string exitsLine(std::vector<ExitSeen> exits, std::size_t limit);
inline constexpr std::size_t kExitsListed = 6;  // the summaries' limit

// Causes sorted by count (descending), then by text; at most `limit`.
std::vector<std::pair<std::string, std::uint64_t>> topCounts(const json& object, std::size_t limit);

// Writes `text` to `path` through path.tmp and a rename, so a reader never
// sees half a file. Returns the path written.
Result<std::string> writeFileAtomic(const std::filesystem::path& path, const std::string& text);
// Writes each (name, text) in `dir` with writeFileAtomic. When one fails,
// none of them is left (an earlier run's included): a reader never finds
// some of a result's files, or an old one beside a new one. "" or the error.
std::string writeAllOrNone(const std::filesystem::path& dir,
                           const std::vector<std::pair<std::string, std::string>>& files);

}  // namespace cutover::reports::render
