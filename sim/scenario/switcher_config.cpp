#include "sim/scenario/switcher_config.hpp"

#include <fstream>
#include <sstream>

#include "sim/scenario/yaml_reader.hpp"

namespace cutover::scenario {
namespace {

using namespace detail;

// "127.0.0.1:8080" -> host, port (loopback only).
bool parseAddress(Ctx& ctx, const YAML::Node& v, const std::string& key, std::string& host, std::uint16_t& port) {
  const std::string text = v.IsScalar() ? v.Scalar() : std::string();
  const auto colon = text.rfind(':');
  unsigned long p = 0;
  bool ok = colon != std::string::npos && colon > 0 && colon + 1 < text.size();
  if (ok) {
    const auto digits = text.substr(colon + 1);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), p);
    ok = ec == std::errc{} && end == digits.data() + digits.size() && p <= 65535;
  }
  if (!ok) {
    ctx.error(v, key, "expected an address like 127.0.0.1:8080, got '" + text + "'");
    return false;
  }
  host = text.substr(0, colon);
  if (host == "localhost") host = "127.0.0.1";
  if (host.rfind("127.", 0) != 0) {
    ctx.error(v, key, "'" + host + "' is not a loopback address: cutover stays on 127.0.0.0/8");
    return false;
  }
  port = static_cast<std::uint16_t>(p);
  return true;
}

SwitcherConfigOutcome loadFromNode(Ctx& ctx, const YAML::Node& root) {
  SwitcherConfig c;
  c.file = ctx.file;
  MapReader r(ctx, root, "");
  if (const auto v = r.get("listen")) parseAddress(ctx, v, "listen", c.listen_host, c.listen_port);
  if (const auto v = r.get("admin")) parseAddress(ctx, v, "admin", c.admin_host, c.admin_port);
  r.string("active", c.active);
  r.integer("seed", c.seed, 0, static_cast<long long>(kMaxSeed));
  std::vector<std::string> pools;
  if (const auto p = r.get("pools", true)) {
    if (!p.IsMap() || p.size() == 0) {
      ctx.error(p, "pools", "expected a mapping of pool name to a list of addresses");
    } else {
      for (const auto& kv : p) {
        const auto pool = kv.first.as<std::string>("");
        const std::string key = "pools." + pool;
        pools.push_back(pool);
        if (!kv.second.IsSequence()) {
          ctx.error(kv.second, key, "expected a list of addresses like [127.0.0.1:8081]");
          continue;
        }
        for (std::size_t i = 0; i < kv.second.size(); ++i) {
          SwitcherBackend b{pool, pool + "-" + std::to_string(i + 1), 0};
          std::string host;
          if (!parseAddress(ctx, kv.second[i], key + "." + std::to_string(i), host, b.port)) continue;
          if (host != "127.0.0.1") {
            ctx.error(kv.second[i], key + "." + std::to_string(i), "backends must be on 127.0.0.1");
            continue;
          }
          if (b.port == 0) {
            ctx.error(kv.second[i], key + "." + std::to_string(i), "a backend needs a port above 0");
            continue;
          }
          c.backends.push_back(b);
        }
      }
    }
  }
  {
    MapReader sw(ctx, r.get("switcher"), "switcher");
    readSwitcherSection(ctx, sw, c.switcher);
    sw.finish();
  }
  r.finish();
  if (!c.active.empty() && std::find(pools.begin(), pools.end(), c.active) == pools.end()) {
    const auto hint = suggestKey(c.active, pools);
    ctx.error(root["active"], "active",
              "no pool named '" + c.active + "'" + (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
  }
  SwitcherConfigOutcome out;
  out.errors = std::move(ctx.errors);
  if (out.errors.empty()) out.config = std::move(c);
  return out;
}

}  // namespace

SwitcherConfigOutcome loadSwitcherConfigText(const std::string& text, const std::string& file_name) {
  Ctx ctx{file_name, {}};
  try {
    const YAML::Node root = YAML::Load(text);
    if (!root.IsMap()) {
      ctx.errors.push_back({file_name, 1, 1, "", "a switcher config is a YAML mapping (listen:, pools:, ...)"});
      return {std::nullopt, ctx.errors};
    }
    return loadFromNode(ctx, root);
  } catch (const YAML::ParserException& e) {
    ctx.errors.push_back({file_name, e.mark.line + 1, e.mark.column + 1, "", "YAML syntax: " + e.msg});
  } catch (const YAML::Exception& e) {
    ctx.errors.push_back({file_name, e.mark.line + 1, e.mark.column + 1, "", e.msg});
  }
  return {std::nullopt, ctx.errors};
}

SwitcherConfigOutcome loadSwitcherConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return {std::nullopt, {{path, 0, 0, "", "cannot read the file"}}};
  std::ostringstream buf;
  buf << in.rdbuf();
  return loadSwitcherConfigText(buf.str(), path);
}

}  // namespace cutover::scenario
