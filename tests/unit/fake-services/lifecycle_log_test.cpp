#include "fake-services/lifecycle_log.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace cutover::service {
namespace {

TEST(LifecycleLog, RoundTripsRequestsEventsAndHeader) {
  RequestLifecycle a;
  a.connection = 3;
  a.request_id = "req-1";
  a.accepted = fromNanos(1'000);
  a.started = fromNanos(1'500);
  a.finished = fromNanos(9'000);
  a.end = RequestEnd::completed;
  a.status = 200;
  RequestLifecycle b;
  b.connection = 4;
  b.accepted = fromNanos(2'000);
  b.finished = fromNanos(2'100);
  b.end = RequestEnd::exit_reset;
  const std::string text = formatHeader("blue-1", "v2", 42) + formatRequest(a) +
                           formatEvent({fromNanos(5'000), "sigterm", ""}) + formatRequest(b) +
                           formatEvent({fromNanos(6'000), "exit", "code=1 reason=drain timeout"});
  const auto log = parseLifecycleLog(text);
  ASSERT_TRUE(log.ok()) << log.error().message;
  EXPECT_EQ(log.value().instance, "blue-1");
  EXPECT_EQ(log.value().version, "v2");
  ASSERT_EQ(log.value().requests.size(), 2u);
  const auto& ra = log.value().requests[0];
  EXPECT_EQ(ra.connection, 3u);
  EXPECT_EQ(ra.request_id, "req-1");
  EXPECT_EQ(ra.accepted, fromNanos(1'000));
  EXPECT_EQ(ra.started, fromNanos(1'500));
  EXPECT_EQ(ra.finished, fromNanos(9'000));
  EXPECT_EQ(ra.end, RequestEnd::completed);
  EXPECT_EQ(ra.status, 200);
  const auto& rb = log.value().requests[1];
  EXPECT_EQ(rb.request_id, "");
  EXPECT_FALSE(rb.started.has_value());
  EXPECT_FALSE(rb.status.has_value());
  EXPECT_EQ(rb.end, RequestEnd::exit_reset);
  ASSERT_EQ(log.value().events.size(), 2u);
  EXPECT_EQ(log.value().events[0].name, "sigterm");
  EXPECT_EQ(log.value().events[1].detail, "code=1 reason=drain timeout");
}

TEST(LifecycleLog, WritesTheDocumentedFormat) {
  RequestLifecycle r;
  r.connection = 7;
  r.request_id = "a b\tc";
  r.accepted = fromNanos(10);
  r.finished = fromNanos(30);
  r.end = RequestEnd::rejected;
  r.status = 503;
  EXPECT_EQ(formatRequest(r), "R 7 a_b_c 10 - 30 rejected 503\n");
  EXPECT_EQ(formatEvent({fromNanos(99), "listener_closed", ""}), "E 99 listener_closed\n");
}

TEST(LifecycleLog, EveryEndNameRoundTrips) {
  for (const auto end : {RequestEnd::completed, RequestEnd::rejected, RequestEnd::refused, RequestEnd::fault_close,
                         RequestEnd::fault_reset, RequestEnd::exit_reset, RequestEnd::exit_close,
                         RequestEnd::client_gone}) {
    EXPECT_EQ(requestEndNamed(requestEndName(end)), end);
  }
  EXPECT_FALSE(requestEndNamed("vanished").has_value());
}

TEST(LifecycleLog, IgnoresACutLastLineAndRejectsGarbageWithItsLineNumber) {
  const auto cut = parseLifecycleLog("E 1 start\nR 1 x 5 6 7 compl");
  ASSERT_TRUE(cut.ok());
  EXPECT_EQ(cut.value().events.size(), 1u);
  EXPECT_TRUE(cut.value().requests.empty());
  const auto bad = parseLifecycleLog("E 1 start\nR 1 x 5 6 7 vanished 200\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("line 2"), std::string::npos);
  EXPECT_FALSE(parseLifecycleLog("E notanumber start\n").ok());
  EXPECT_FALSE(parseLifecycleLog("R 1 x 5\n").ok());
}

TEST(LifecycleLog, ReadsAFile) {
  const std::string path = ::testing::TempDir() + "lifecycle_log_test.log";
  {
    std::ofstream out(path);
    out << formatHeader("green-2", "v9", 1) << "E 5 ready\n";
  }
  const auto log = readLifecycleLog(path);
  std::remove(path.c_str());
  ASSERT_TRUE(log.ok()) << log.error().message;
  EXPECT_EQ(log.value().instance, "green-2");
  EXPECT_EQ(log.value().events.size(), 1u);
  EXPECT_FALSE(readLifecycleLog(path).ok());
}

}  // namespace
}  // namespace cutover::service
