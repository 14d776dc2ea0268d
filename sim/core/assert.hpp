#pragma once
// Broken invariants are bugs. CUTOVER_ASSERT stays on in every build type
// (debug, release, sanitizers, simulation): the checks are cheap and a
// harness that validates others must not go on with a broken state.
#include <cstdio>
#include <cstdlib>

#define CUTOVER_ASSERT(cond)                                                          \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                   \
    }                                                                                 \
  } while (false)
