#include "sim/core/ziggurat.hpp"

#include <cmath>

namespace cutover {
namespace ziggurat_detail {
namespace {

// x[0] = v / f(r) (the base layer's width, tail included as area), x[1] = r,
// each next boundary where the layer above has area v, x[256] = 0.
template <class F, class Finv>
Table build(double r, double v, F f, Finv finv) {
  Table t{};
  t.r = r;
  t.v = v;
  t.x[0] = v / f(r);
  t.x[1] = r;
  for (int i = 2; i < 256; ++i) t.x[i] = finv(v / t.x[i - 1] + f(t.x[i - 1]));
  t.x[256] = 0.0;
  for (int i = 0; i <= 256; ++i) t.f[i] = f(t.x[i]);
  return t;
}

double normalPdf(double x) { return std::exp(-x * x / 2.0); }
double exponentialPdf(double x) { return std::exp(-x); }

}  // namespace

const Table& normalTable() {
  static const Table t = build(
      3.6541528853610088, 0.00492867323399, normalPdf, [](double y) { return std::sqrt(-2.0 * std::log(y)); });
  return t;
}

const Table& exponentialTable() {
  static const Table t = build(7.69711747013104972, 0.0039496598225815571993, exponentialPdf,
                               [](double y) { return -std::log(y); });
  return t;
}

}  // namespace ziggurat_detail

namespace {

// Uniform in (0, 1): never 0, for the logs of the tails.
double open01(Rng& rng) { return (static_cast<double>(rng() >> 11) + 0.5) * 0x1.0p-53; }

}  // namespace

double standardNormal(Rng& rng) {
  static const ziggurat_detail::Table& t = ziggurat_detail::normalTable();
  for (;;) {
    const std::uint64_t bits = rng();
    const unsigned i = static_cast<unsigned>(bits & 0xFF);            // the layer
    const double u = static_cast<double>(bits >> 11) * 0x1.0p-52 - 1.0;  // [-1, 1), sign included
    const double x = u * t.x[i];
    if (std::fabs(x) < t.x[i + 1]) return x;  // inside the layer's rectangle
    if (i == 0) {                             // the tail beyond r (Marsaglia, 1964)
      double a = 0.0, b = 0.0;
      do {
        a = std::log(open01(rng)) / t.r;
        b = std::log(open01(rng));
      } while (-2.0 * b < a * a);
      return u < 0.0 ? a - t.r : t.r - a;
    }
    // The wedge: under the density at x, or draw again.
    if (t.f[i + 1] + (t.f[i] - t.f[i + 1]) * rng.uniform() < ziggurat_detail::normalPdf(x)) return x;
  }
}

double standardExponential(Rng& rng) {
  static const ziggurat_detail::Table& t = ziggurat_detail::exponentialTable();
  for (;;) {
    const std::uint64_t bits = rng();
    const unsigned i = static_cast<unsigned>(bits & 0xFF);
    const double u = static_cast<double>(bits >> 11) * 0x1.0p-53;  // [0, 1)
    const double x = u * t.x[i];
    if (x < t.x[i + 1]) return x;
    if (i == 0) return t.r - std::log(open01(rng));  // memoryless: r + Exp(1)
    if (t.f[i + 1] + (t.f[i] - t.f[i + 1]) * rng.uniform() < ziggurat_detail::exponentialPdf(x)) return x;
  }
}

}  // namespace cutover
