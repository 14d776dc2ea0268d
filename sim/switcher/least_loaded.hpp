#pragma once
// LeastLoaded: the least outstanding choice among a pool's members, in
// constant time per request. Pure data structure (no clock, no I/O).
//
// Theory of operation
// -------------------
// Each member k (its index in the pool) has a load: its requests in flight,
// or kUnroutable (unhealthy, ejected). pick(start, exclude) answers the
// member with the least load, ties going to the first at or after `start`
// in circular order (the pool's round robin cursor), `exclude` left out (a
// retry's other backend); the answer is the same as a scan of every member
// would give, which is what the unit test holds it to.
//
// A scan per request is O(members): at 1000 instances it was most of the
// simulator's time per request. Instead, for every load level below
// kLevels there is a bitmap of the members at that level and their count,
// and the least non-empty level is kept as loads move (a request taken or
// done moves one member one level, so the least level moves by at most one
// and its successor is found at once). pick() is then a search for the first
// set bit from `start` in one level's bitmap: members / 64 words at most.
// Loads at or above kLevels (a heavily overloaded backend) are only counted;
// when no member is below kLevels, pick() scans, as before.
#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "sim/core/assert.hpp"

namespace cutover::switcher {

class LeastLoaded {
 public:
  static constexpr std::uint32_t kUnroutable = 0xFFFFFFFFu;
  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  static constexpr std::uint32_t kLevels = 1024;

  // A new member at the end, with load `v`.
  void push_back(std::uint32_t v) {
    load_.push_back(v);
    if (words(load_.size()) != words_) return rebuild();  // one more bitmap word per level
    add(load_.size() - 1, v);
  }

  // Member k leaves; the members after it move down one place.
  void erase(std::size_t k) {
    CUTOVER_ASSERT(k < load_.size());
    load_.erase(load_.begin() + static_cast<std::ptrdiff_t>(k));
    rebuild();
  }

  void set(std::size_t k, std::uint32_t v) {
    CUTOVER_ASSERT(k < load_.size());
    const std::uint32_t old = load_[k];
    if (old == v) return;
    load_[k] = v;
    add(k, v);  // before remove: when the least level empties, its successor is already there
    remove(k, old);
  }

  // The least loaded member other than `exclude`, first from `start` in
  // circular order; kNone when no member but `exclude` is routable.
  std::size_t pick(std::size_t start, std::size_t exclude = kNone) const {
    const std::size_t n = load_.size();
    if (n == 0) return kNone;
    if (start >= n) start %= n;
    std::uint32_t level = least_;
    if (level < kLevels && exclude < n && load_[exclude] == level && count_[level] == 1)
      level = nextLevel(level + 1);  // the excluded member is the only one at the least level
    if (level >= kLevels) return over_ == 0 ? kNone : scan(start, exclude);
    const std::uint64_t* bits = &bits_[static_cast<std::size_t>(level) * words_];
    const std::size_t found = firstFrom(bits, start, exclude);
    if (found != kNone) return found;
    return firstFrom(bits, 0, exclude, start);
  }

 private:
  static std::size_t words(std::size_t n) { return (n + 63) / 64; }

  void add(std::size_t k, std::uint32_t v) {
    if (v == kUnroutable) return;
    if (v >= kLevels) {
      ++over_;
      return;
    }
    if (v >= count_.size()) grow(v);
    bits_[static_cast<std::size_t>(v) * words_ + k / 64] |= std::uint64_t{1} << (k % 64);
    ++count_[v];
    if (v < least_) least_ = v;
  }

  void remove(std::size_t k, std::uint32_t v) {
    if (v == kUnroutable) return;
    if (v >= kLevels) {
      --over_;
      return;
    }
    bits_[static_cast<std::size_t>(v) * words_ + k / 64] &= ~(std::uint64_t{1} << (k % 64));
    if (--count_[v] == 0 && v == least_) least_ = nextLevel(v + 1);
  }

  // The first non-empty level at or after `from`, or kLevels.
  std::uint32_t nextLevel(std::uint32_t from) const {
    for (std::uint32_t v = from; v < count_.size(); ++v)
      if (count_[v] != 0) return v;
    return kLevels;
  }

  void grow(std::uint32_t v) {
    const std::size_t levels = std::min<std::size_t>(kLevels, std::max<std::size_t>(v + 1, count_.size() * 2));
    count_.resize(levels, 0);
    bits_.resize(levels * words_, 0);
  }

  // Everything again from load_ (a member left, or the bitmaps widened).
  void rebuild() {
    words_ = words(load_.size());
    count_.assign(count_.size(), 0);
    bits_.assign(count_.size() * words_, 0);
    least_ = kLevels;
    over_ = 0;
    for (std::size_t k = 0; k < load_.size(); ++k) add(k, load_[k]);
  }

  // The first set bit in [from, to) other than `exclude`, or kNone.
  std::size_t firstFrom(const std::uint64_t* bits, std::size_t from, std::size_t exclude,
                        std::size_t to = kNone) const {
    if (to == kNone) to = load_.size();
    for (std::size_t w = from / 64; w * 64 < to; ++w) {
      std::uint64_t word = bits[w];
      if (w == from / 64) word &= ~std::uint64_t{0} << (from % 64);
      if (exclude / 64 == w) word &= ~(std::uint64_t{1} << (exclude % 64));
      if (word == 0) continue;
      const std::size_t k = w * 64 + static_cast<std::size_t>(std::countr_zero(word));
      return k < to ? k : kNone;
    }
    return kNone;
  }

  // Every member compared (when no load is below kLevels).
  std::size_t scan(std::size_t start, std::size_t exclude) const {
    const std::size_t n = load_.size();
    std::uint32_t least = kUnroutable;
    for (std::size_t k = 0; k < n; ++k)
      if (k != exclude && load_[k] < least) least = load_[k];
    if (least == kUnroutable) return kNone;
    for (std::size_t i = 0, k = start; i < n; ++i, k = k + 1 == n ? 0 : k + 1)
      if (k != exclude && load_[k] == least) return k;
    return kNone;
  }

  std::vector<std::uint32_t> load_;   // per member: in flight, or kUnroutable
  std::vector<std::uint32_t> count_;  // per level below kLevels: members at it
  std::vector<std::uint64_t> bits_;   // per level: words_ words, bit k: member k is at it
  std::size_t words_ = 0;
  std::uint32_t least_ = kLevels;     // the least level with a member, or kLevels
  std::uint32_t over_ = 0;            // routable members at kLevels or above
};

}  // namespace cutover::switcher
