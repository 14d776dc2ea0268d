#pragma once
// summary.md from a report.json document, for a pull-request comment
// (GitHub-flavoured Markdown): the verdict line, a table of key numbers,
// why the run is invalid, the failed expectations and the top drop causes.
// All text taken from the report is escaped (mdEscape): a scenario cannot
// inject Markdown or HTML into the comment.
#include <nlohmann/json.hpp>
#include <string>

namespace cutover::reports {

inline constexpr std::size_t kMarkdownTopCauses = 10;

std::string renderMarkdown(const nlohmann::json& report);

}  // namespace cutover::reports
