#pragma once
// Standard normal and exponential draws by the ziggurat method (Marsaglia and
// Tsang, 2000; 256 layers, the layout of Rust's rand_distr). About 99% of
// draws take one 64-bit random number, a multiply and a compare; the rest
// fall into a wedge (one exp) or the tail (a few logs). Box-Muller and the
// inverse transform cost a log and a cos (or a log1p) every time, which was
// a fifth of the simulator's time.
//
// Exact distributions, not approximations: the layers cover the density,
// the wedges are decided by the density itself and the tail is sampled
// exactly (Marsaglia's method for the normal, R + Exp(1) for the
// exponential). The number of random numbers used per draw varies, so a
// stream stays deterministic per seed but is not one draw per call.
#include "sim/core/rng.hpp"

namespace cutover {

// N(0, 1).
double standardNormal(Rng& rng);

// Exp(1): mean 1.
double standardExponential(Rng& rng);

namespace ziggurat_detail {
// The layer boundaries x[0..256] and f(x[i]) of each table, for tests.
struct Table {
  double x[257];
  double f[257];
  double r;  // start of the tail (x[1])
  double v;  // area of each layer
};
const Table& normalTable();
const Table& exponentialTable();
}  // namespace ziggurat_detail

}  // namespace cutover
