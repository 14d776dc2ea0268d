#pragma once
// Queueing estimates beside the simulation: Erlang C (M/M/c), the classic
// closed form a capacity plan is checked against. Pure functions.
//
// Theory of operation: offered load a = lambda / mu erlangs on c servers,
// rho = a / c. Erlang B by its stable recursion B(k) = a B(k-1) / (k + a B(k-1)),
// then C = B / (1 - rho (1 - B)), the chance that a request waits. A queued
// wait is Exp(c mu - lambda); a response is that wait (with probability C)
// plus an Exp(mu) service, so
//   P(T > t) = (1 - C) e^{-mu t} + C P(Exp(beta) + Exp(mu) > t), beta = c mu - lambda,
// and its 99th percentile is found by bisection.
#include <optional>

namespace cutover {

struct ErlangC {
  double servers = 0;          // c
  double offered_erlangs = 0;  // a = lambda / mu
  double rho = 0;              // a / c
  bool stable = false;         // rho < 1; the figures below only then
  double p_wait = 0;           // C: the chance that a request waits
  double mean_wait_s = 0;      // C / (c mu - lambda)
  double wait_p99_s = 0;       // 99th percentile of the wait
  double response_p99_s = 0;   // 99th percentile of wait + service
};

// nullopt when there is no server or no finite service time.
std::optional<ErlangC> erlangC(double rate_per_s, double mean_service_s, double servers);

}  // namespace cutover
