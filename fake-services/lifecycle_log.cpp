#include "fake-services/lifecycle_log.hpp"

#include <array>
#include <charconv>
#include <fstream>
#include <sstream>
#include <utility>

namespace cutover::service {
namespace {

constexpr std::array<std::pair<RequestEnd, std::string_view>, 8> kEnds = {{
    {RequestEnd::completed, "completed"},
    {RequestEnd::rejected, "rejected"},
    {RequestEnd::refused, "refused"},
    {RequestEnd::fault_close, "fault_close"},
    {RequestEnd::fault_reset, "fault_reset"},
    {RequestEnd::exit_reset, "exit_reset"},
    {RequestEnd::exit_close, "exit_close"},
    {RequestEnd::client_gone, "client_gone"},
}};

constexpr std::size_t kMaxFileBytes = 4ull * 1024 * 1024 * 1024;

std::string sanitize(std::string_view id) {
  std::string out(id.substr(0, kMaxRequestIdLength));
  for (auto& c : out) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) c = '_';
  }
  return out;
}

// Splits on single spaces, at most `max` fields; the last takes the rest.
std::vector<std::string_view> fields(std::string_view line, std::size_t max) {
  std::vector<std::string_view> out;
  while (!line.empty() && out.size() + 1 < max) {
    const auto sp = line.find(' ');
    if (sp == std::string_view::npos) break;
    out.push_back(line.substr(0, sp));
    line.remove_prefix(sp + 1);
  }
  out.push_back(line);
  return out;
}

template <class T>
std::optional<T> number(std::string_view s) {
  T v{};
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<Instant> instant(std::string_view s) {
  const auto v = number<std::int64_t>(s);
  if (!v) return std::nullopt;
  return fromNanos(*v);
}

std::optional<RequestLifecycle> parseRequest(std::string_view line) {
  const auto f = fields(line, 8);
  if (f.size() != 8 || f[0] != "R") return std::nullopt;
  RequestLifecycle r;
  const auto conn = number<std::uint64_t>(f[1]);
  const auto accepted = instant(f[3]);
  const auto finished = instant(f[5]);
  const auto end = requestEndNamed(f[6]);
  if (!conn || !accepted || !finished || !end) return std::nullopt;
  r.connection = *conn;
  r.request_id = f[2] == "-" ? "" : std::string(f[2]);
  r.accepted = *accepted;
  r.finished = *finished;
  r.end = *end;
  if (f[4] != "-") {
    r.started = instant(f[4]);
    if (!r.started) return std::nullopt;
  }
  if (f[7] != "-") {
    r.status = number<std::uint16_t>(f[7]);
    if (!r.status) return std::nullopt;
  }
  return r;
}

std::optional<LifecycleEvent> parseEvent(std::string_view line) {
  const auto f = fields(line, 4);
  if (f.size() < 3 || f[0] != "E" || f[2].empty()) return std::nullopt;
  const auto at = instant(f[1]);
  if (!at) return std::nullopt;
  return LifecycleEvent{*at, std::string(f[2]), f.size() == 4 ? std::string(f[3]) : ""};
}

void parseHeader(std::string_view line, LifecycleLog& log) {
  for (const auto field : fields(line, 16)) {
    if (field.starts_with("instance=")) log.instance = std::string(field.substr(9));
    if (field.starts_with("version=")) log.version = std::string(field.substr(8));
  }
}

}  // namespace

std::string_view requestEndName(RequestEnd end) {
  for (const auto& [e, name] : kEnds) {
    if (e == end) return name;
  }
  return "?";
}

std::optional<RequestEnd> requestEndNamed(std::string_view name) {
  for (const auto& [e, n] : kEnds) {
    if (n == name) return e;
  }
  return std::nullopt;
}

std::string formatHeader(std::string_view instance, std::string_view version, long pid) {
  return "# cutover-lifecycle 1 instance=" + sanitize(instance) + " version=" + sanitize(version) +
         " pid=" + std::to_string(pid) + "\n";
}

std::string formatRequest(const RequestLifecycle& r) {
  std::string s = "R " + std::to_string(r.connection) + " ";
  s += r.request_id.empty() ? "-" : sanitize(r.request_id);
  s += " " + std::to_string(toNanos(r.accepted)) + " ";
  s += r.started ? std::to_string(toNanos(*r.started)) : "-";
  s += " " + std::to_string(toNanos(r.finished)) + " ";
  s += requestEndName(r.end);
  s += " ";
  s += r.status ? std::to_string(*r.status) : "-";
  s += "\n";
  return s;
}

std::string formatEvent(const LifecycleEvent& e) {
  std::string s = "E " + std::to_string(toNanos(e.at)) + " " + sanitize(e.name);
  if (!e.detail.empty()) {
    std::string detail = e.detail;
    for (auto& c : detail) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    s += " " + detail;
  }
  s += "\n";
  return s;
}

Result<LifecycleLog> parseLifecycleLog(std::string_view text) {
  LifecycleLog log;
  std::size_t line_no = 0;
  while (!text.empty() && line_no < kMaxLifecycleLines) {
    const auto nl = text.find('\n');
    if (nl == std::string_view::npos) break;  // a cut last line
    const std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    ++line_no;
    if (line.empty()) continue;
    if (line.starts_with("# cutover-lifecycle")) {
      parseHeader(line, log);
    } else if (line.starts_with("#")) {
      continue;
    } else if (line.starts_with("R ")) {
      auto r = parseRequest(line);
      if (!r) return Error{"lifecycle log line " + std::to_string(line_no) + ": bad request line"};
      log.requests.push_back(std::move(*r));
    } else {
      auto e = parseEvent(line);
      if (!e) return Error{"lifecycle log line " + std::to_string(line_no) + ": bad line"};
      log.events.push_back(std::move(*e));
    }
  }
  return log;
}

Result<LifecycleLog> readLifecycleLog(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{"lifecycle log: cannot open " + path};
  std::ostringstream buf;
  buf << in.rdbuf();
  const std::string text = buf.str();
  if (text.size() > kMaxFileBytes) return Error{"lifecycle log: too large: " + path};
  return parseLifecycleLog(text);
}

}  // namespace cutover::service
