#pragma once
// One compact record per request, as the client saw it, and the outcome words
// of the design (docs/measures.md). Times are nanoseconds on the shared
// monotonic clock (sim/core/time.hpp); 0 means "did not happen".
#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace cutover {

enum class Outcome : std::uint8_t { ok, app_error, switch_error, reset, refused, timeout };
inline constexpr std::size_t kOutcomeCount = 6;
inline constexpr std::array<std::string_view, kOutcomeCount> kOutcomeNames = {
    "ok", "app_error", "switch_error", "reset", "refused", "timeout"};

constexpr std::string_view outcomeName(Outcome o) { return kOutcomeNames[static_cast<std::size_t>(o)]; }
// dropped = switch_error + reset + refused + timeout.
constexpr bool isDropped(Outcome o) { return o != Outcome::ok && o != Outcome::app_error; }
std::optional<Outcome> outcomeFromName(std::string_view name);

// Header names shared by services, the switcher and clients.
inline constexpr std::string_view kHeaderVersion = "x-cutover-version";
inline constexpr std::string_view kHeaderInstance = "x-cutover-instance";
inline constexpr std::string_view kHeaderRequestId = "x-request-id";
// Set on every response the switcher itself produced (no backend, upstream
// failure); its value is the reason. Clients count such 5xx as switch_error.
inline constexpr std::string_view kHeaderSwitcherError = "x-cutover-switcher-error";
// On such responses, the backend instance the switcher tried, if any.
inline constexpr std::string_view kHeaderSwitcherBackend = "x-cutover-switcher-backend";
// On such responses, the pool it routed into: for no_backend, the pool that
// had no routable backend when the request reached the switcher (which may
// not be the pool active when the client sent it).
inline constexpr std::string_view kHeaderSwitcherPool = "x-cutover-switcher-pool";

inline constexpr std::uint16_t kNoName = 0xFFFF;

// Why the switcher produced a response itself: the value of
// kHeaderSwitcherError (sim/switcher/proxy.cpp), kept as a small code so a
// record stays compact. `other` is any value not listed here.
enum class SwitcherReason : std::uint8_t {
  none,
  no_active_pool,
  no_backend,
  upstream_connect_failed,
  upstream_connect_timeout,
  upstream_timeout,
  upstream_reset,
  upstream_closed,
  upstream_bad_response,
  other
};
inline constexpr std::size_t kSwitcherReasonCount = 10;
inline constexpr std::array<std::string_view, kSwitcherReasonCount> kSwitcherReasonNames = {
    "none", "no_active_pool", "no_backend", "upstream_connect_failed", "upstream_connect_timeout",
    "upstream_timeout", "upstream_reset", "upstream_closed", "upstream_bad_response", "other"};
constexpr std::string_view switcherReasonName(SwitcherReason r) {
  return kSwitcherReasonNames[static_cast<std::size_t>(r)];
}
// The code of a header value; `other` for an unknown one, `none` for "".
SwitcherReason switcherReasonFromName(std::string_view name);

struct RequestRecord {
  std::int64_t intended_ns = 0;    // when the arrival process meant to send it
  std::int64_t sent_ns = 0;        // first byte written (0: never sent)
  std::int64_t first_byte_ns = 0;  // first response byte read
  std::int64_t done_ns = 0;        // outcome known
  std::uint64_t request_id = 0;
  std::uint32_t connection_id = 0;
  std::uint16_t connection_reuse = 0;  // requests sent before this one on the connection
  std::uint16_t status = 0;            // HTTP status, 0 if none
  std::uint16_t version = kNoName;     // index into the run's name table
  std::uint16_t instance = kNoName;    // index into the run's name table
  std::uint16_t pool = kNoName;        // switcher errors: the pool it routed into (kHeaderSwitcherPool)
  Outcome outcome = Outcome::ok;
  SwitcherReason switcher_reason = SwitcherReason::none;  // set with outcome switch_error
};
// The memory budget of issue 5: a 10-minute run at 5k/s in < 200 MB.
static_assert(sizeof(RequestRecord) <= 64, "RequestRecord must stay within 64 bytes");

}  // namespace cutover
