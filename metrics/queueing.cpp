#include "metrics/queueing.hpp"

#include <cmath>

namespace cutover {

std::optional<ErlangC> erlangC(double rate_per_s, double mean_service_s, double servers) {
  if (!(mean_service_s > 0) || !(servers >= 1) || !(rate_per_s >= 0)) return std::nullopt;
  ErlangC e;
  const double mu = 1.0 / mean_service_s;  // per s
  e.servers = servers;
  e.offered_erlangs = rate_per_s / mu;
  e.rho = e.offered_erlangs / servers;
  if (e.rho >= 1.0) return e;  // unstable: the queue grows without bound
  e.stable = true;
  const double a = e.offered_erlangs;
  double b = 1.0;
  for (int k = 1; k <= static_cast<int>(servers); ++k) b = a * b / (k + a * b);
  const double pw = b / (1 - e.rho * (1 - b));
  const double beta = servers * mu - rate_per_s;  // decay rate of a queued wait
  const auto tail = [&](double t) {
    const double both = std::abs(beta - mu) < 1e-9 * mu
                            ? (1 + mu * t) * std::exp(-mu * t)
                            : (beta * std::exp(-mu * t) - mu * std::exp(-beta * t)) / (beta - mu);
    return (1 - pw) * std::exp(-mu * t) + pw * both;
  };
  double lo = 0, hi = 1.0 / mu;
  for (int i = 0; i < 200 && tail(hi) > 0.01; ++i) hi *= 2;
  for (int i = 0; i < 100; ++i) (tail((lo + hi) / 2) > 0.01 ? lo : hi) = (lo + hi) / 2;
  e.p_wait = pw;
  e.mean_wait_s = pw / beta;
  e.wait_p99_s = pw <= 0.01 ? 0.0 : std::log(pw / 0.01) / beta;
  e.response_p99_s = hi;
  return e;
}

}  // namespace cutover
