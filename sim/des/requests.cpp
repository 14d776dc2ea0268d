// The engine's request path: clients, the switcher's upstream exchanges and
// the services' handling of each request (theory in engine.hpp).
#include <algorithm>

#include "sim/core/assert.hpp"
#include "sim/des/engine.hpp"

namespace cutover::des::detail {

using switcher::Upstream;

// ---- clients ---------------------------------------------------------------

void Sim::onArrival(std::uint16_t bi) {
  Block& b = blocks_[bi];
  if (b.closed) return pumpClosed(bi);
  if (!launch(bi)) return;
  if (const auto next = b.arrivals->next()) q_.push(toNanos(*next), kArrival, bi, 0, b.arrival_lane);
  else b.arrivals_done = true;
  dispatchRequest(bi, static_cast<std::uint32_t>(b.records.size() - 1));
}

// A new request of block `bi`, intended now: its record and its timeout.
bool Sim::launch(std::uint16_t bi) {
  Block& b = blocks_[bi];
  if (records_total_ >= opt_.max_requests) {
    b.arrivals_done = true;
    invalid_.push_back("simulation stopped sending: more than max_requests requests");
    return false;
  }
  RequestRecord r;
  r.intended_ns = now_;
  r.request_id = b.next_request_id++;
  b.records.push_back(r);
  ++records_total_;
  ++b.outstanding;
  if (!b.timeout_armed) armClientTimeout(bi);
  return true;
}

// Closed loop (as the live client's pumpClosed): every worker ready now
// sends; then the one timer waits for the next ready worker.
void Sim::pumpClosed(std::uint16_t bi) {
  Block& b = blocks_[bi];
  if (b.closed_timer_at && *b.closed_timer_at <= now_) b.closed_timer_at.reset();
  for (std::size_t n = 0; n < loadgen::ClosedLoop::kMaxWorkers && !b.arrivals_done; ++n) {
    const auto send = b.closed->pollSend(fromNanos(now_));
    if (!send) break;
    if (!launch(bi)) return;
    const auto rec = static_cast<std::uint32_t>(b.records.size() - 1);
    b.worker_of.emplace(rec, send->worker);
    dispatchRequest(bi, rec);
  }
  if (b.closed->sendingOver()) {
    b.arrivals_done = true;
    return;
  }
  const auto due = b.closed->nextDeadline();
  if (!due) return;
  const std::int64_t at = std::max(now_, toNanos(*due));
  if (b.closed_timer_at && *b.closed_timer_at <= at) return;
  b.closed_timer_at = at;
  q_.push(at, kArrival, bi, ++b.closed_timer_gen);
}

// A closed-loop request has its outcome: its worker thinks, then sends again.
void Sim::closedDone(std::uint16_t bi, std::uint32_t rec) {
  Block& b = blocks_[bi];
  const auto it = b.worker_of.find(rec);
  CUTOVER_ASSERT(it != b.worker_of.end());
  b.closed->onDone(it->second, fromNanos(now_));
  b.worker_of.erase(it);
  pumpClosed(bi);
}

void Sim::dispatchRequest(std::uint16_t bi, std::uint32_t rec) {
  Block& b = blocks_[bi];
  if (!b.idle.empty()) {
    const auto slot = b.idle.back();
    b.idle.pop_back();
    return sendOn(bi, slot, rec, now_, false);
  }
  if (b.open < static_cast<std::size_t>(b.spec->connections)) return openConn(bi, rec);
  b.waiting.push_back(rec);
}

void Sim::openConn(std::uint16_t bi, std::uint32_t rec) {
  Block& b = blocks_[bi];
  std::uint32_t slot;
  if (!b.free_conns.empty()) {
    slot = b.free_conns.back();
    b.free_conns.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(b.conns.size());
    CUTOVER_ASSERT(slot < (1u << 24));
    b.conns.emplace_back();
  }
  b.conns[slot] = ClientConn{next_conn_id_++, kNone, 0, true, false};
  b.peak_open = std::max(b.peak_open, ++b.open);
  sendOn(bi, slot, rec, now_ + connect_ns_, true);  // the switcher accepts at once
}

// The request is written at `at` (now, or after a connect) and reaches the
// switcher one hop later.
void Sim::sendOn(std::uint16_t bi, std::uint32_t slot, std::uint32_t rec, std::int64_t at, bool fresh) {
  Block& b = blocks_[bi];
  ClientConn& c = b.conns[slot];
  c.busy = true;
  c.record = rec;
  RequestRecord& r = b.records[rec];
  r.sent_ns = at;
  r.connection_id = c.id;
  r.connection_reuse = c.reuse;
  if (c.reuse < 0xFFFF) ++c.reuse;
  const std::uint32_t x = allocExchange();
  Exchange& ex = ex_[x];
  ex.record = rec;
  ex.block = bi;
  ex.conn_slot = slot;
  ex.conn_id = c.id;
  q_.push(at + hop_ns_, kAtSwitcher, x, ex.gen, fresh ? connect_hop_lane_ : hop_lane_);
}

void Sim::closeConn(std::uint16_t bi, std::uint32_t slot) {
  Block& b = blocks_[bi];
  ClientConn& c = b.conns[slot];
  CUTOVER_ASSERT(c.open);
  c.open = false;
  c.busy = false;
  c.record = kNone;
  if (l4_) {  // the switcher's side of it ends too: the pin is released
    core_.closeConnection(c.id, fromNanos(now_));
    afterCore(true);
  }
  c.pinned = kNone;
  c.upstream_open = false;
  c.close_after = false;
  --b.open;
  b.free_conns.push_back(slot);
}

ClientConn* Sim::connOf(const Exchange& ex) {
  ClientConn& c = blocks_[ex.block].conns[ex.conn_slot];
  return c.open && c.id == ex.conn_id ? &c : nullptr;
}

// l4: the backend closed its connections (a drain, an exit): the switcher
// closes each idle client connection that owned one, at once, as the live
// proxy's idle watch does; a busy one ends after its response.
void Sim::closePinnedIdle(std::uint32_t inst) {
  if (!l4_) return;
  for (std::uint16_t bi = 0; bi < blocks_.size(); ++bi) {
    Block& b = blocks_[bi];
    for (std::size_t k = 0; k < b.idle.size();) {
      const std::uint32_t slot = b.idle[k];
      ClientConn& c = b.conns[slot];
      if (c.open && !c.busy && c.pinned == inst && c.upstream_open) {
        b.idle[k] = b.idle.back();
        b.idle.pop_back();
        closeConn(bi, slot);
        feedWaiting(bi, std::nullopt);
      } else {
        if (c.pinned == inst) c.upstream_open = false;
        ++k;
      }
    }
    for (auto& c : b.conns)
      if (c.open && c.pinned == inst) {
        c.upstream_open = false;
        // Busy: its response (a request the backend accepted before its
        // drain began, planned keep-alive) must not reopen the path; the
        // switcher ends the client connection after it.
        if (c.busy) c.close_after = true;
      }
  }
}

// A connection freed up (reusable: that slot; else one was closed): the
// oldest waiting request still without an outcome goes next.
void Sim::feedWaiting(std::uint16_t bi, std::optional<std::uint32_t> reusable) {
  Block& b = blocks_[bi];
  while (!b.waiting.empty() && b.records[b.waiting.front()].done_ns != 0) b.waiting.pop_front();
  if (b.waiting.empty()) {
    if (reusable) b.idle.push_back(*reusable);
    return;
  }
  const auto rec = b.waiting.front();
  b.waiting.pop_front();
  if (reusable) return sendOn(bi, *reusable, rec, now_, false);
  if (b.open < static_cast<std::size_t>(b.spec->connections)) openConn(bi, rec);
  else b.waiting.push_front(rec);
}

// Lazy client timeouts: a block's records are in intended order, so their
// deadlines (intended + timeout) never decrease. One event per block waits
// for the oldest request without an outcome; when it fires, the requests
// answered meanwhile are skipped (most are), the overdue ones time out, and
// it is armed again for the next one. Saves one event per request.
void Sim::armClientTimeout(std::uint16_t bi) {
  Block& b = blocks_[bi];
  while (b.timeout_cursor < b.records.size() && b.records[b.timeout_cursor].done_ns != 0) ++b.timeout_cursor;
  b.timeout_armed = b.timeout_cursor < b.records.size();
  if (b.timeout_armed)
    q_.push(b.records[b.timeout_cursor].intended_ns + b.spec->timeout.count(), kClientTimeout, bi);
}

void Sim::onClientTimeouts(std::uint16_t bi) {
  Block& b = blocks_[bi];
  const std::int64_t timeout = b.spec->timeout.count();
  for (; b.timeout_cursor < b.records.size(); ++b.timeout_cursor) {
    const RequestRecord& r = b.records[b.timeout_cursor];
    if (r.done_ns != 0) continue;
    if (r.intended_ns + timeout > now_) break;
    onClientTimeout(bi, b.timeout_cursor);
  }
  armClientTimeout(bi);
}

// Intended + timeout: a request without an outcome is a timeout; the
// connection carrying it is closed (as the live client does).
void Sim::onClientTimeout(std::uint16_t bi, std::uint32_t rec) {
  Block& b = blocks_[bi];
  RequestRecord& r = b.records[rec];
  if (r.done_ns != 0) return;
  r.done_ns = now_;
  r.first_byte_ns = 0;
  r.outcome = Outcome::timeout;
  r.status = 0;
  r.version = kNoName;
  r.instance = kNoName;
  r.pool = kNoName;
  r.switcher_reason = SwitcherReason::none;
  --b.outstanding;
  if (r.sent_ns > now_) r.sent_ns = 0;  // still connecting: never written
  // Rare (a failure path): find its connection among the open ones.
  for (std::uint32_t s = 0; s < b.conns.size(); ++s) {
    if (b.conns[s].open && b.conns[s].busy && b.conns[s].record == rec) {
      closeConn(bi, s);
      feedWaiting(bi, std::nullopt);
      break;
    }
  }
  if (b.closed) closedDone(bi, rec);
}

void Sim::onAtClient(std::uint16_t bi, std::uint32_t slot, std::uint32_t conn_id) {
  Block& b = blocks_[bi];
  ClientConn& c = b.conns[slot];
  if (!c.open || c.id != conn_id || !c.busy) return;  // closed by its timeout meanwhile
  RequestRecord& r = b.records[c.record];
  CUTOVER_ASSERT(r.done_ns == 0);
  r.done_ns = now_;
  r.first_byte_ns = now_;
  --b.outstanding;
  const std::uint32_t rec = c.record;
  c.busy = false;
  c.record = kNone;
  // As the live client's connection policy: keep-alive reuses; new per
  // request closes; mixed closes a seeded fraction, so that share of the
  // block's requests goes out on a fresh connection.
  using scenario::ConnectionPolicy;
  const auto policy = b.spec->connection_policy;
  const bool keep = (policy == ConnectionPolicy::keepalive ||
                     (policy == ConnectionPolicy::mixed && b.connection_rng.uniform() >= b.spec->fresh_fraction)) &&
                    !c.close_after;
  if (keep) {
    feedWaiting(bi, slot);
  } else {
    closeConn(bi, slot);
    feedWaiting(bi, std::nullopt);
  }
  if (b.closed) closedDone(bi, rec);
}

// ---- the switcher's side -----------------------------------------------------

std::uint32_t Sim::allocExchange() {
  std::uint32_t x;
  if (!free_ex_.empty()) {
    x = free_ex_.back();
    free_ex_.pop_back();
  } else {
    x = static_cast<std::uint32_t>(ex_.size());
    CUTOVER_ASSERT(x != kNone);
    ex_.emplace_back();
  }
  Exchange& ex = ex_[x];
  const std::uint32_t gen = ex.gen;
  ex = Exchange{};
  ex.gen = gen;
  ex.used = true;
  return x;
}

void Sim::freeExchange(std::uint32_t x) {
  Exchange& ex = ex_[x];
  ex.used = false;
  ++ex.gen;
  free_ex_.push_back(x);
}

void Sim::onAtSwitcher(std::uint32_t x) {
  Exchange& ex = ex_[x];
  const Instant now = fromNanos(now_);
  ClientConn* conn = l4_ ? connOf(ex) : nullptr;
  // l4: the Core pins the client connection (by its id) to a backend.
  const auto route = core_.route(now, conn ? conn->id : 0);
  if (!route) {
    // The pool without a routable backend (the live proxy's x-cutover-switcher-pool;
    // Route::pool, read before the answer's rollback sample could change it).
    const std::uint16_t pool =
        route.error == switcher::RouteError::no_backend ? nameId(core_.poolName(route.pool)) : kNoName;
    afterCore(core_hot_);  // a no_backend answer is a rollback sample
    if (conn) conn->close_after = true;  // l4: an error ends the client's connection
    if (route.error == switcher::RouteError::pinned_backend_gone)  // the live proxy's 502 (reason "other")
      return toClient(x, 502, Outcome::switch_error, SwitcherReason::other);
    const auto reason = route.error == switcher::RouteError::no_active_pool ? SwitcherReason::no_active_pool
                                                                             : SwitcherReason::no_backend;
    return toClient(x, 503, Outcome::switch_error, reason, pool);
  }
  useBackend(x, route.backend);
  if (conn) {
    if (conn->pinned != ex.inst) conn->upstream_open = false;
    conn->pinned = ex.inst;
  }
  ex.deadline = now_ + sc_.switcher.upstream_timeout.count();
  if (core_hot_) afterCore(true);
  upstreamSend(x);
}

// The exchange goes to `backend` from now (its first route, or a retry's).
void Sim::useBackend(std::uint32_t x, switcher::BackendId backend) {
  Exchange& ex = ex_[x];
  ex.backend = backend;
  ex.inst = backend < inst_of_backend_.size() ? inst_of_backend_[backend] : kNone;
  CUTOVER_ASSERT(ex.inst != kNone);
  ex.routed = now_;
}

void Sim::upstreamSend(std::uint32_t x) {
  Exchange& ex = ex_[x];
  Inst& in = insts_[ex.inst];
  // l4: the client connection's own upstream connection when open; l7: the
  // switcher's idle pool for the backend.
  ClientConn* conn = l4_ ? connOf(ex) : nullptr;
  const bool reuse = conn ? conn->upstream_open : in.idle_upstream > 0;
  if (in.alive && reuse) {
    if (conn) conn->upstream_open = false;  // in use; open again after a kept response
    else --in.idle_upstream;
    ex.reused = true;
    q_.push(now_ + hop_ns_, kAtService, x, ex.gen, hop_lane_);
  } else {
    ex.reused = false;
    q_.push(now_ + connect_ns_, kConnectResult, x, ex.gen, connect_lane_);
  }
}

void Sim::onConnectResult(std::uint32_t x) {
  Exchange& ex = ex_[x];
  const Inst& in = insts_[ex.inst];
  if (!in.alive || !in.model->listenerOpen()) {
    if (retryElsewhere(x, Upstream::connect_failed)) return;
    return upstreamDone(x, Upstream::connect_failed, 502, SwitcherReason::upstream_connect_failed, nullptr);
  }
  q_.push(now_ + hop_ns_, kAtService, x, ex.gen, hop_lane_);
}

// The live proxy's retry on another backend of the same pool (switcher.retry;
// proxy_session.cpp's retryElsewhere): the attempt on ex.backend failed
// before any response byte (a refused connect, a reset or close with no
// byte). The Core decides (mayRetry: enabled, l7, attempts left, and the
// block's method idempotent unless the connect failed) and picks
// (routeRetry: another routable backend of the pool, no panic); the failed
// attempt is reported after the pick, as the live proxy does. False when
// there is no retry: the caller answers.
bool Sim::retryElsewhere(std::uint32_t x, Upstream failed) {
  Exchange& ex = ex_[x];
  if (now_ >= ex.deadline ||
      !core_.mayRetry(blocks_[ex.block].spec->method, ex.other_retries, failed != Upstream::connect_failed))
    return false;
  const Instant now = fromNanos(now_);
  const auto next = core_.routeRetry(now, ex.backend);
  if (!next) return false;
  core_.onRequestDone(ex.backend, now, failed, Duration{now_ - ex.routed});
  afterCore(core_hot_);
  useBackend(x, next.backend);
  ex.accepted = 0;
  ++ex.other_retries;
  ++retries_;
  upstreamSend(x);
  return true;
}

void Sim::onAtService(std::uint32_t x) {
  Exchange& ex = ex_[x];
  const std::uint32_t i = ex.inst;
  Inst& in = insts_[i];
  if (!in.alive) {  // the connection died with the process: no byte comes back
    ex.result = UpResult::no_bytes_reset;
    q_.push(now_ + hop_ns_, kAtSwitcherResponse, x, ex.gen, hop_lane_);
    return;
  }
  const auto plan = in.model->planRequest(fromNanos(now_), blocks_[ex.block].spec->path);
  ex.accepted = now_;
  ex.plan_id = plan.id;
  ex.status = plan.status;
  ex.close_conn = plan.close_connection;
  ex.service_time = plan.service_time ? plan.service_time->count() : -1;
  switch (plan.start) {
    case service::Start::now:
      ex.result = plan.ending == service::Ending::respond ? UpResult::response
                  : plan.ending == service::Ending::close ? UpResult::no_bytes_close
                                                          : UpResult::reset_after_bytes;
      ex.pos = static_cast<std::uint32_t>(in.in_service.size());
      in.in_service.push_back(x);
      startService(x);
      break;
    case service::Start::queued:
      ex.result = plan.ending == service::Ending::respond ? UpResult::response
                  : plan.ending == service::Ending::close ? UpResult::no_bytes_close
                                                          : UpResult::reset_after_bytes;
      ex.pos = static_cast<std::uint32_t>(in.in_service.size());
      in.in_service.push_back(x);
      in.queued.emplace(plan.id, x);
      q_.push(ex.deadline, kUpstreamTimeout, x, ex.gen);
      break;
    case service::Start::reject:
      ex.result = UpResult::response;
      q_.push(now_ + hop_ns_, kAtSwitcherResponse, x, ex.gen, hop_lane_);
      break;
    case service::Start::refuse:
      ex.result = UpResult::no_bytes_reset;
      q_.push(now_ + hop_ns_, kAtSwitcherResponse, x, ex.gen, hop_lane_);
      break;
  }
  pumpInstance(i);
}

// In service from now: done after its service time, unless the switcher's
// upstream deadline comes first (or it hangs).
void Sim::startService(std::uint32_t x) {
  Exchange& ex = ex_[x];
  ex.started = now_;
  const std::int64_t done = ex.service_time < 0 ? -1 : now_ + ex.service_time;
  if (ex.abandoned) {  // nobody waits for it: it ends with its service time (a hang: at the exit)
    if (done >= 0) q_.push(done, kServiceDone, x, ex.gen);
    return;
  }
  if (done >= 0 && done + hop_ns_ < ex.deadline) {
    q_.push(done, kServiceDone, x, ex.gen);
  } else if (ex.service_time < 0 || done + hop_ns_ >= ex.deadline) {
    q_.push(std::max(now_, ex.deadline), kUpstreamTimeout, x, ex.gen);
  }
}

void Sim::leaveService(std::uint32_t x) {
  Exchange& ex = ex_[x];
  if (ex.pos == kNone) return;
  Inst& in = insts_[ex.inst];
  CUTOVER_ASSERT(ex.pos < in.in_service.size() && in.in_service[ex.pos] == x);
  const std::uint32_t last = in.in_service.back();
  in.in_service[ex.pos] = last;
  ex_[last].pos = ex.pos;
  in.in_service.pop_back();
  ex.pos = kNone;
}

void Sim::onServiceDone(std::uint32_t x) {
  Exchange& ex = ex_[x];
  const std::uint32_t i = ex.inst;
  leaveService(x);
  insts_[i].model->handle(service::RequestFinished{ex.plan_id}, fromNanos(now_));
  if (ex.abandoned) freeExchange(x);  // its response goes nowhere
  else q_.push(now_ + hop_ns_, kAtSwitcherResponse, x, ex.gen, hop_lane_);
  pumpInstance(i);
}

// The switcher gives up on the upstream (504) and closes the connection. The
// service does not notice: it goes on with the request (queued or in
// service) until its service time ends, as the live fake service does; an
// abandoned exchange takes the service's side of it over.
void Sim::onUpstreamTimeout(std::uint32_t x) {
  ++ex_[x].gen;
  if (ex_[x].pos != kNone) {
    const std::uint32_t g = allocExchange();  // may move ex_
    Exchange& ex = ex_[x];
    Exchange& ghost = ex_[g];
    const std::uint32_t gen = ghost.gen;
    ghost = ex;  // the service's side as it was: instance, plan, slot, times
    ghost.gen = gen;
    ghost.abandoned = true;
    Inst& in = insts_[ex.inst];
    in.in_service[ex.pos] = g;
    ex.pos = kNone;
    if (const auto it = in.queued.find(ex.plan_id); it != in.queued.end()) {
      it->second = g;  // started later, when a slot frees
    } else if (ex.service_time >= 0) {
      // In service since `started`: its ServiceDone was not scheduled (the deadline came first).
      q_.push(std::max(now_, ex.started + ex.service_time), kServiceDone, g, ghost.gen);
    }
  }
  upstreamDone(x, Upstream::timeout, 504, SwitcherReason::upstream_timeout, "client_gone");
}

void Sim::onAtSwitcherResponse(std::uint32_t x) {
  Exchange& ex = ex_[x];
  Inst& in = insts_[ex.inst];
  switch (ex.result) {
    case UpResult::response:
      if (l4_) {
        // The upstream kept: the client connection keeps its path; it
        // closed (Connection: close): the client's connection ends too.
        if (ClientConn* conn = connOf(ex)) {
          conn->upstream_open = !ex.close_conn && in.alive;
          if (!conn->upstream_open) conn->close_after = true;
        }
      } else if (!ex.close_conn && in.alive) {
        ++in.idle_upstream;
      }
      return upstreamDone(x, ex.status >= 500 ? Upstream::server_error : Upstream::response, ex.status,
                          SwitcherReason::none, nullptr);
    case UpResult::no_bytes_reset:
    case UpResult::no_bytes_close:
      if (switcher::Core::mayRetryStale(blocks_[ex.block].spec->method, {.reused = ex.reused,
                                                                          .stale_retried = ex.retried,
                                                                          .past_deadline = now_ >= ex.deadline})) {
        // The live proxy's one retry: a reused connection failed before any byte.
        ex.retried = true;
        ++retries_;
        ex.reused = false;
        ex.accepted = 0;
        q_.push(now_ + connect_ns_, kConnectResult, x, ex.gen, connect_lane_);
        return;
      }
      if (retryElsewhere(x, Upstream::reset)) return;
      return upstreamDone(x, Upstream::reset, 502,
                          ex.result == UpResult::no_bytes_close ? SwitcherReason::upstream_closed
                                                                : SwitcherReason::upstream_reset,
                          ex.result == UpResult::no_bytes_close ? "fault_close" : nullptr);
    case UpResult::reset_after_bytes:
      return upstreamDone(x, Upstream::reset, 502, SwitcherReason::upstream_reset, "fault_reset");
  }
}

// The upstream exchange is over: the Core hears of it, and the client gets
// the response (the service's, or the switcher's own error) one hop later.
void Sim::upstreamDone(std::uint32_t x, Upstream u, std::uint16_t status, SwitcherReason reason, const char* how) {
  Exchange& ex = ex_[x];
  core_.onRequestDone(ex.backend, fromNanos(now_), u, Duration{now_ - ex.routed});
  afterCore(core_hot_);
  // The service's end of it (a fault's close or reset, a timeout's client
  // gone): a finished time, so the drop is not read as "in flight at exit".
  if (reason != SwitcherReason::none && ex.accepted != 0 && how)
    logService(ex, std::max(ex.accepted, now_ - hop_ns_), how);
  if (l4_ && reason != SwitcherReason::none)  // a failed path ends the client's connection (as a reset one)
    if (ClientConn* conn = connOf(ex)) conn->close_after = true;
  toClient(x, status, reason == SwitcherReason::none ? (status >= 500 ? Outcome::app_error : Outcome::ok)
                                                     : Outcome::switch_error,
           reason, reason == SwitcherReason::none ? kNoName : nameId(insts_[ex.inst].info.pool));
}

void Sim::toClient(std::uint32_t x, std::uint16_t status, Outcome outcome, SwitcherReason reason,
                   std::uint16_t pool) {
  Exchange& ex = ex_[x];
  Block& b = blocks_[ex.block];
  RequestRecord& r = b.records[ex.record];
  if (r.done_ns == 0) {
    r.status = status;
    r.pool = pool;
    r.outcome = outcome;
    r.switcher_reason = reason;
    if (ex.inst != kNone) {
      r.instance = insts_[ex.inst].name_instance;
      r.version = insts_[ex.inst].name_version;
    } else if (pool != kNoName) {  // as the live runner: a no_backend answer counts against the pool's version
      if (const auto* g = sc_.service(names_[pool])) r.version = nameId(g->behaviour.version);
    }
    q_.push(now_ + hop_ns_, kAtClient, (static_cast<std::uint32_t>(ex.block) << 24) | ex.conn_slot, ex.conn_id,
            hop_lane_);
  } else if (ex.accepted != 0 && isDropped(r.outcome)) {
    logService(ex, now_, "client_gone");  // the client timed out while a service held it
  }
  freeExchange(x);
}

void Sim::logService(const Exchange& ex, std::int64_t finished, const char* how) {
  if (ex.inst == kNone || ex.accepted == 0) return;
  const auto& r = blocks_[ex.block].records[ex.record];
  logs_.push_back({insts_[ex.inst].info.id, r.request_id, ex.accepted, finished, how ? how : ""});
}

}  // namespace cutover::des::detail
