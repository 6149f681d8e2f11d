#include "core/session.hpp"

namespace ringway::core {

void worker_context::close(session& s, bool reset) noexcept {
    if (s.state == session_state::closing || s.state == session_state::free) return;
    s.state = session_state::closing;
    s.reset = reset;
    wheel->cancel(&s.idle_timer);
    if (s.connect_pending) streams->cancel(s.server, ud(op_kind::connect, s));
    if (s.client.recv_armed) streams->cancel(s.client, recv_ud(s, true));
    if (s.server.recv_armed) streams->cancel(s.server, recv_ud(s, false));
    if (s.client.send_inflight) streams->cancel(s.client, send_ud(s, true));
    if (s.server.send_inflight) streams->cancel(s.server, send_ud(s, false));
    maybe_reap(s);
}

void worker_context::maybe_reap(session& s) noexcept {
    if (s.state != session_state::closing || s.reap_queued) return;
    if (s.connect_pending || s.timeouts_pending > 0 || s.client.recv_armed ||
        s.server.recv_armed || s.client.send_inflight || s.server.send_inflight)
        return;
    s.reap_queued = true;
    reap->push_back(slot_of(s));
}

void worker_context::mark_starved(session& s, bool client_side) noexcept {
    stats->buffer_starved.add();
    (client_side ? s.client : s.server).starved = true;
    starved->push_back((std::uint64_t(s.generation) << 33) | (std::uint64_t(slot_of(s)) << 1) |
                       (client_side ? 1u : 0u));
}

} // namespace ringway::core
