#pragma once
// EventQueue: the discrete-event engine's agenda. Pure data structure.
//
// Theory of operation
// -------------------
// Every event has a virtual time (ns) and a sequence number given when it is
// scheduled. Events are taken in (time, seq) order: equal times keep the
// order in which they were scheduled, so a run is a function of its inputs
// and seed only (the deterministic tie-break).
//
// Most events of a simulated request are scheduled a fixed delay after "now"
// (one network hop, one connect, a client timeout), so they arrive already
// sorted. Such events go into a *lane*: a FIFO ring whose times never
// decrease, pushed and popped in O(1). Everything else (service times, timers)
// goes into a 4-ary heap. pop() takes the smallest (time, seq) among the
// heap top and the lane heads; a push to a lane that would break its order
// falls back to the heap, so lanes are an optimisation that never changes
// the order of events.
#include <cstdint>
#include <vector>

#include "sim/core/assert.hpp"

namespace cutover::des {

struct SimEvent {
  std::int64_t t = 0;     // virtual time, ns
  std::uint64_t key = 0;  // (seq << 8) | kind: seq orders ties, kind is the handler
  std::uint32_t target = 0;
  std::uint32_t gen = 0;  // generation of the target when scheduled (stale events are skipped)

  std::uint8_t kind() const { return static_cast<std::uint8_t>(key & 0xFF); }
  bool before(const SimEvent& o) const { return t < o.t || (t == o.t && key < o.key); }
};
static_assert(sizeof(SimEvent) == 24);

class EventQueue {
 public:
  using Lane = std::uint32_t;
  static constexpr Lane kNoLane = 0xFFFFFFFFu;

  // A new lane; events pushed to it should come in non-decreasing time.
  Lane addLane() {
    lanes_.emplace_back();
    return static_cast<Lane>(lanes_.size() - 1);
  }

  // push() and pop() are inlined where they are used (the lane paths are a
  // few instructions; a call's prologue was a fifth of them); the heap's
  // sifts are calls.
  [[gnu::always_inline]] void push(std::int64_t t, std::uint8_t kind, std::uint32_t target, std::uint32_t gen = 0,
                                   Lane lane = kNoLane) {
    CUTOVER_ASSERT(seq_ < (std::uint64_t{1} << 56));
    const SimEvent e{t, (seq_++ << 8) | kind, target, gen};
    ++size_;
    if (lane != kNoLane) {
      Ring& r = lanes_[lane];
      if (r.empty() || r.back().t <= t) {
        r.push(e);
        return;
      }
    }
    heapPush(e);
  }

  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }
  std::uint64_t scheduled() const { return seq_; }

  // The earliest event; the queue must not be empty.
  [[gnu::always_inline]] SimEvent pop() {
    CUTOVER_ASSERT(size_ > 0);
    --size_;
    const SimEvent* best = heap_.empty() ? nullptr : &heap_.front();
    Ring* from = nullptr;
    for (Ring& r : lanes_) {
      if (r.empty()) continue;
      if (!best || r.front().before(*best)) best = &r.front(), from = &r;
    }
    CUTOVER_ASSERT(best != nullptr);
    if (from) return from->pop();
    return heapPop();
  }

  // Time of the earliest event; the queue must not be empty.
  std::int64_t peekTime() const {
    std::int64_t t = heap_.empty() ? INT64_MAX : heap_.front().t;
    for (const Ring& r : lanes_)
      if (!r.empty() && r.front().t < t) t = r.front().t;
    return t;
  }

 private:
  // A growable ring buffer (capacity a power of two).
  class Ring {
   public:
    bool empty() const { return head_ == tail_; }
    const SimEvent& front() const { return buf_[head_ & mask_]; }
    const SimEvent& back() const { return buf_[(tail_ - 1) & mask_]; }
    void push(const SimEvent& e) {
      if (tail_ - head_ == buf_.size()) grow();
      buf_[tail_++ & mask_] = e;
    }
    SimEvent pop() { return buf_[head_++ & mask_]; }

   private:
    void grow() {
      std::vector<SimEvent> next(buf_.empty() ? 64 : buf_.size() * 2);
      std::size_t n = 0;
      for (std::uint64_t i = head_; i != tail_; ++i) next[n++] = buf_[i & mask_];
      buf_ = std::move(next);
      mask_ = buf_.size() - 1;
      head_ = 0;
      tail_ = n;
    }
    std::vector<SimEvent> buf_;
    std::uint64_t mask_ = 0;
    std::uint64_t head_ = 0;
    std::uint64_t tail_ = 0;
  };

  // A 4-ary min-heap: half the depth of a binary one, and the four children
  // of a node sit next to each other in memory.
  static constexpr std::size_t kArity = 4;
  [[gnu::noinline]] void heapPush(const SimEvent& e) {
    std::size_t i = heap_.size();
    heap_.push_back(e);
    while (i > 0) {
      const std::size_t parent = (i - 1) / kArity;
      if (!e.before(heap_[parent])) break;
      heap_[i] = heap_[parent];
      i = parent;
    }
    heap_[i] = e;
  }
  [[gnu::noinline]] SimEvent heapPop() {
    const SimEvent top = heap_.front();
    const SimEvent last = heap_.back();
    heap_.pop_back();
    const std::size_t n = heap_.size();
    if (n == 0) return top;
    std::size_t i = 0;
    for (;;) {
      const std::size_t first = kArity * i + 1;
      if (first >= n) break;
      std::size_t child = first;
      const std::size_t stop = first + kArity < n ? first + kArity : n;
      for (std::size_t c = first + 1; c < stop; ++c)
        if (heap_[c].before(heap_[child])) child = c;
      if (!heap_[child].before(last)) break;
      heap_[i] = heap_[child];
      i = child;
    }
    heap_[i] = last;
    return top;
  }

  std::vector<SimEvent> heap_;
  std::vector<Ring> lanes_;
  std::uint64_t seq_ = 0;
  std::size_t size_ = 0;
};

}  // namespace cutover::des
