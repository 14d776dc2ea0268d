// A run's Prometheus endpoint (runner::RunMetrics) over real sockets, and a
// real Prometheus server (Debian package `prometheus`, /usr/bin/prometheus)
// scraping it with metrics/prometheus.yml: a live Proxy in front of a
// TinyHttpServer backend, a LoadClient sending through it, RunMetrics
// observing both. Also checks metrics/grafana-dashboard.json: valid JSON,
// every metric it names is exported, every query parses in Prometheus.
#include "sim/runner/run_metrics.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sim/core/clock.hpp"
#include "sim/loadgen/arrivals.hpp"
#include "sim/loadgen/client.hpp"
#include "sim/switcher/proxy.hpp"
#include "sim/switcher/switcher_metrics.hpp"
#include "tests/integration/support.hpp"

namespace cutover::runner {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::TinyHttpServer;
using testing::TinyReply;
using testing::TinyRequest;
using testing::waitFor;

constexpr const char* kPrometheus = "/usr/bin/prometheus";
constexpr const char* kConfigTarget = "127.0.0.1:9464";  // the target in metrics/prometheus.yml

// ---- a one-shot HTTP/1.0 client (reads to EOF: no chunking, no keep-alive) ----

struct Http {
  int status = 0;  // 0: no response
  std::string body;
};

Http httpRequest(std::uint16_t port, const std::string& method, const std::string& target) {
  Http out;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return out;
  timeval tv{5, 0};  // every blocking call is bounded
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return out;
  }
  const std::string req = method + " " + target + " HTTP/1.0\r\nHost: 127.0.0.1:" + std::to_string(port) +
                          "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return out;
  }
  std::string raw;
  char buf[8192];
  for (int i = 0; i < 100000 && raw.size() < (8u << 20); ++i) {  // bounded in count and size
    const auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    raw.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  const auto end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || end == std::string::npos || raw.size() < 12) return out;
  out.status = std::atoi(raw.substr(9, 3).c_str());
  out.body = raw.substr(end + 4);
  return out;
}

std::string urlEncode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The sample value of `series` (exact name and labels) in a text exposition.
std::optional<double> sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l.rfind(series + " ", 0) == 0) return std::stod(l.substr(series.size() + 1));
  return std::nullopt;
}

// ---- a live switcher, a backend, load, and the run's endpoint ------------------------

TinyHttpServer::Handler versioned(const std::string& version, const std::string& instance) {
  return [version, instance](const TinyRequest&) {
    TinyReply r;
    r.headers = {{"x-cutover-version", version}, {"x-cutover-instance", instance}};
    return r;
  };
}

class RunEndpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    RunMetricsOptions o;
    o.scenario = "prometheus-test";
    o.planned_duration = 2s;
    metrics_ = std::make_unique<RunMetrics>(o);
    proxy_ = std::make_unique<switcher::Proxy>(switcher::ProxyOptions{});
    proxy_->setObserver(metrics_->switcherObserver());
    std::string error;
    ASSERT_TRUE(proxy_->start(&error)) << error;
    proxy_->addBackend("blue", "blue-1", blue_.port(), true);
    ASSERT_TRUE(proxy_->switchTo("blue").ok);
    metrics_->attachProxy(proxy_.get());
    ASSERT_TRUE(metrics_->start(&error)) << error;
    ASSERT_NE(metrics_->port(), 0);
  }

  void TearDown() override {
    if (load_thread_.joinable()) {
      if (client_) client_->requestStop();
      load_thread_.join();
    }
    metrics_->stop();  // before the proxy and the load client go
    proxy_->stop();
  }

  // Starts constant-rate load through the proxy on its own thread, counted by
  // a load source named "block-0".
  void startLoad(double rate, Duration length) {
    loadgen::ClientOptions co;
    co.port = proxy_->port();
    co.connections = 4;
    co.timeout = 2s;
    const Instant t0 = monoNow() + 20ms;
    client_ = std::make_unique<loadgen::LoadClient>(co, loadgen::makeConstant(t0, length, rate));
    metrics_->startClock(t0);
    auto* client = client_.get();
    ASSERT_TRUE(metrics_->addLoadSource("block-0", [client] {
      return loadSnapshotFromTotals(client->completed(), client->droppedSoFar());
    }));
    load_thread_ = std::thread([this] { result_ = client_->run(); });
  }

  std::size_t finishLoad() {
    load_thread_.join();
    return result_.records.size();
  }

  TinyHttpServer blue_{versioned("v1", "blue-1")};
  std::unique_ptr<RunMetrics> metrics_;
  std::unique_ptr<switcher::Proxy> proxy_;
  std::unique_ptr<loadgen::LoadClient> client_;
  loadgen::LoadResult result_;
  std::thread load_thread_;
};

TEST_F(RunEndpoint, ServesSwitcherLoadAndRunMetrics) {
  startLoad(100, 500ms);
  const std::size_t sent = finishLoad();
  ASSERT_GE(sent, 40u);
  const Http m = httpRequest(metrics_->port(), "GET", "/metrics");
  ASSERT_EQ(m.status, 200);
  const std::string& t = m.body;
  const double n = static_cast<double>(sent);
  EXPECT_EQ(sample(t, "cutover_switcher_requests_total{outcome=\"ok\",pool=\"blue\",version=\"v1\"}"), n) << t;
  EXPECT_EQ(sample(t, "cutover_loadgen_requests_total{source=\"block-0\",outcome=\"delivered\"}"), n) << t;
  EXPECT_EQ(sample(t, "cutover_loadgen_requests_total{source=\"block-0\",outcome=\"dropped\"}"), 0.0) << t;
  EXPECT_EQ(sample(t, "cutover_switcher_active_pool{pool=\"blue\"}"), 1.0) << t;
  EXPECT_EQ(sample(t, "cutover_switcher_in_flight{pool=\"blue\"}"), 0.0) << t;
  EXPECT_EQ(sample(t, "cutover_switcher_backend_healthy{instance=\"blue-1\",pool=\"blue\"}"), 1.0) << t;
  EXPECT_EQ(sample(t, "cutover_run_info{mode=\"live\",scenario=\"prometheus-test\"}"), 1.0) << t;
  EXPECT_EQ(sample(t, "cutover_run_duration_seconds"), 2.0) << t;
  const auto elapsed = sample(t, "cutover_run_elapsed_seconds");
  ASSERT_TRUE(elapsed.has_value()) << t;
  EXPECT_GT(*elapsed, 0.4);
}

TEST_F(RunEndpoint, IsReadOnly) {
  EXPECT_EQ(httpRequest(metrics_->port(), "GET", "/health").status, 200);
  const Http state = httpRequest(metrics_->port(), "GET", "/state");
  EXPECT_EQ(state.status, 200);
  EXPECT_NE(state.body.find("blue-1"), std::string::npos) << state.body;
  const Http sw = httpRequest(metrics_->port(), "POST", "/switch?to=blue");
  EXPECT_EQ(sw.status, 409) << sw.body;
  EXPECT_NE(sw.body.find("read-only"), std::string::npos) << sw.body;
  EXPECT_EQ(httpRequest(metrics_->port(), "POST", "/rollback").status, 409);
  EXPECT_EQ(proxy_->activePool(), "blue");
}

TEST(RunEndpointPort, ASecondEndpointOnTheSamePortFails) {
  RunMetrics first;
  std::string error;
  ASSERT_TRUE(first.start(&error)) << error;
  RunMetricsOptions o;
  o.port = first.port();
  RunMetrics second(o);
  EXPECT_FALSE(second.start(&error));
  EXPECT_NE(error.find("metrics endpoint"), std::string::npos) << error;
  first.stop();
  EXPECT_TRUE(waitFor([&] { return !testing::portAcceptsConnections(o.port); }, 5s));
}

// ---- the Grafana dashboard ---------------------------------------------------------

json loadDashboard() {
  return json::parse(readFile(testing::sourceDir() + "/metrics/grafana-dashboard.json"));
}

// Every PromQL expression of the dashboard: panel targets and annotations.
std::vector<std::string> dashboardQueries(const json& d) {
  std::vector<std::string> out;
  for (const auto& p : d.at("panels"))
    for (const auto& t : p.at("targets")) out.push_back(t.at("expr").get<std::string>());
  for (const auto& a : d.at("annotations").at("list"))
    if (a.contains("expr")) out.push_back(a.at("expr").get<std::string>());
  return out;
}

TEST(GrafanaDashboard, NamesOnlyExportedMetrics) {
  const json d = loadDashboard();  // throws (fails) on invalid JSON
  EXPECT_EQ(d.at("uid"), "cutover-run");
  ASSERT_GE(d.at("panels").size(), 6u);
  // prometheus-cpp leaves out families without series: give every one a series.
  RunMetrics m;
  switcher::ExchangeInfo x;
  x.pool = "blue";
  x.version = "v1";
  x.outcome = "ok";
  m.switcherObserver()->onExchange(x);
  m.switcherMetrics().refresh({switcher::BackendView{"blue", "blue-1", 1, 0, true, false, 0}}, "blue");
  const std::string text = m.metricsText();
  std::set<std::string> declared;
  const std::regex type_line("# TYPE (\\w+) \\w+");
  for (std::sregex_iterator it(text.begin(), text.end(), type_line), end; it != end; ++it)
    declared.insert((*it)[1]);
  const std::regex metric("cutover_\\w+");
  std::size_t named = 0;
  for (const auto& q : dashboardQueries(d)) {
    for (std::sregex_iterator it(q.begin(), q.end(), metric), end; it != end; ++it) {
      std::string name = it->str();
      for (const char* suffix : {"_bucket", "_count", "_sum"})
        if (!declared.count(name) && name.size() > std::strlen(suffix) &&
            name.compare(name.size() - std::strlen(suffix), std::string::npos, suffix) == 0)
          name.resize(name.size() - std::strlen(suffix));
      EXPECT_TRUE(declared.count(name)) << name << " in " << q;
      ++named;
    }
  }
  EXPECT_GE(named, 10u);
}

// ---- a real Prometheus -------------------------------------------------------------

// A port nobody holds right now (bind 0, read, close; Prometheus binds it next).
std::uint16_t freePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  std::uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

// /usr/bin/prometheus as a child in its own process group, killed with the
// test (PR_SET_PDEATHSIG) and by the destructor (SIGTERM, bounded wait, SIGKILL).
class PrometheusServer {
 public:
  explicit PrometheusServer(std::string dir) : dir_(std::move(dir)) {}
  ~PrometheusServer() { stop(); }
  PrometheusServer(const PrometheusServer&) = delete;
  PrometheusServer& operator=(const PrometheusServer&) = delete;

  // Starts it with `config` and waits (bounded) until /-/ready answers 200.
  bool start(const std::string& config, std::string* why) {
    for (int attempt = 0; attempt < 3; ++attempt) {  // the free port may be taken meanwhile
      port_ = freePort();
      if (port_ == 0) continue;
      spawn(config);
      if (pid_ <= 0) break;
      const bool ready = waitFor(
          [&] { return exited() || httpRequest(port_, "GET", "/-/ready").status == 200; }, 30s, 50ms);
      if (ready && !exited()) return true;
      stop();
    }
    *why = "prometheus did not become ready; its log:\n" + readFile(log());
    return false;
  }

  // Runs an instant query; the parsed answer (status "success" or "error").
  json query(const std::string& promql) const {
    const Http r = httpRequest(port_, "GET", "/api/v1/query?query=" + urlEncode(promql));
    if (r.status == 0) return json{{"status", "no response"}};
    return json::parse(r.body, nullptr, false);
  }

  // The value of a one-element vector answer, if there is one.
  std::optional<double> scalar(const std::string& promql) const {
    const json j = query(promql);
    if (j.is_discarded() || j.value("status", "") != "success") return std::nullopt;
    const auto& result = j.at("data").at("result");
    if (result.size() != 1) return std::nullopt;
    return std::stod(result[0].at("value")[1].get<std::string>());
  }

  // SIGTERM, then SIGKILL after 10 s; true when it exited on the SIGTERM.
  bool stop() {
    if (pid_ <= 0) return true;
    ::kill(-pid_, SIGTERM);
    const bool graceful = waitFor([&] { return exited(); }, 10s, 20ms);
    if (!graceful) {
      ::kill(-pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    pid_ = -1;
    return graceful;
  }

  std::uint16_t port() const { return port_; }
  std::string log() const { return dir_ + "/prometheus.log"; }

 private:
  void spawn(const std::string& config) {
    const std::string listen = "--web.listen-address=127.0.0.1:" + std::to_string(port_);
    const std::string cfg = "--config.file=" + config;
    const std::string tsdb = "--storage.tsdb.path=" + dir_ + "/tsdb";
    const int log_fd = ::open(log().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ != 0) {
      if (log_fd >= 0) ::close(log_fd);
      return;
    }
    // Child: only async-signal-safe calls until exec.
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    if (log_fd >= 0) {
      ::dup2(log_fd, 1);
      ::dup2(log_fd, 2);
    }
    const char* argv[] = {kPrometheus, cfg.c_str(), tsdb.c_str(), listen.c_str(), "--log.level=warn", nullptr};
    ::execv(kPrometheus, const_cast<char* const*>(argv));
    ::_exit(127);
  }

  // Reaps the child when it has exited.
  bool exited() {
    if (pid_ <= 0) return true;
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) {
      pid_ = -1;
      return true;
    }
    return false;
  }

  std::string dir_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

// A temporary directory removed at the end of the test.
struct TempDir {
  TempDir() {
    std::string templ = (std::filesystem::temp_directory_path() / "cutover-prometheus-XXXXXX").string();
    if (::mkdtemp(templ.data()) != nullptr) path = templ;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }
  std::string path;
};

// metrics/prometheus.yml with its one target replaced by 127.0.0.1:port.
std::string configFor(std::uint16_t port) {
  std::string text = readFile(testing::sourceDir() + "/metrics/prometheus.yml");
  const auto at = text.find(kConfigTarget);
  if (at == std::string::npos || text.find(kConfigTarget, at + 1) != std::string::npos) return "";
  return text.replace(at, std::strlen(kConfigTarget), "127.0.0.1:" + std::to_string(port));
}

TEST_F(RunEndpoint, RealPrometheusScrapesTheRequestCounters) {
  if (::access(kPrometheus, X_OK) != 0)
    GTEST_SKIP() << kPrometheus << " is missing: apt-get install prometheus (Debian package)";
  TempDir dir;
  ASSERT_FALSE(dir.path.empty());
  const std::string config = configFor(metrics_->port());
  ASSERT_FALSE(config.empty()) << "metrics/prometheus.yml must name " << kConfigTarget << " exactly once";
  std::ofstream(dir.path + "/prometheus.yml") << config;

  startLoad(200, 1500ms);  // traffic while Prometheus starts and scrapes
  PrometheusServer prom(dir.path);
  std::string why;
  ASSERT_TRUE(prom.start(dir.path + "/prometheus.yml", &why)) << why;

  EXPECT_TRUE(waitFor([&] { return prom.scalar("up{job=\"cutover\"}") == 1.0; }, 20s, 100ms))
      << "the target never came up; log:\n" << readFile(prom.log());
  EXPECT_TRUE(waitFor([&] { return prom.scalar("sum(cutover_switcher_requests_total)").value_or(0) > 0; }, 20s, 100ms));
  EXPECT_TRUE(waitFor([&] { return prom.scalar("sum(cutover_loadgen_requests_total)").value_or(0) > 0; }, 20s, 100ms));

  // Once the load is over, Prometheus holds exactly what the client counted.
  const double sent = static_cast<double>(finishLoad());
  ASSERT_GT(sent, 200);
  EXPECT_TRUE(waitFor([&] { return prom.scalar("sum(cutover_loadgen_requests_total{outcome=\"delivered\"})") == sent; },
                      20s, 100ms))
      << "last: " << prom.scalar("sum(cutover_loadgen_requests_total{outcome=\"delivered\"})").value_or(-1)
      << " want " << sent;
  EXPECT_EQ(prom.scalar("sum(cutover_switcher_requests_total{version=\"v1\",outcome=\"ok\"})"), sent);
  EXPECT_EQ(prom.scalar("max(cutover_switcher_active_pool{pool=\"blue\"})"), 1.0);
  EXPECT_EQ(prom.scalar("count(cutover_run_info{scenario=\"prometheus-test\"})"), 1.0);

  // Every query of the Grafana dashboard parses and runs.
  for (const auto& q : dashboardQueries(loadDashboard())) {
    const json j = prom.query(q);
    EXPECT_EQ(j.is_discarded() ? "unparsed" : j.value("status", ""), "success") << q << "\n" << j.dump();
  }

  EXPECT_TRUE(prom.stop()) << "prometheus did not exit on SIGTERM";
  EXPECT_TRUE(waitFor([&] { return cutover::testing::portIsFree(prom.port()); }, 5s)) << "prometheus left its port bound";
}

}  // namespace
}  // namespace cutover::runner
