// The L4 relay protocol: bytes from one side are queued, unchanged, on the
// other side's stream, with backpressure, half-close and an idle timeout.
// Runs TCP listeners' sessions from connect to close, and any session a
// protocol hands over (adopt(): a connection upgraded to another protocol).
// Worker thread only.
//
// Invariants:
// - A buffer received from one side is queued, unchanged, on the other
//   side's out queue and recycled when its last byte has been sent (no copy).
// - A side stops being read while its peer's queue holds queue_limit() bytes
//   or more; it is read again once the queue falls to half of that.
// - A FIN is passed on once everything before it was sent; a reset or a
//   failed send closes both sides with RST.
#pragma once

#include <cstdint>

#include "core/session.hpp"

namespace ringway::core {

class l4_relay {
public:
    explicit l4_relay(worker_context& ctx) noexcept : ctx_(ctx) {}

    // A new client on a TCP listener: pick a server and connect.
    void start(session& s) noexcept;
    // Takes over a session whose streams are connected (both may hold
    // queued bytes): relays from now on.
    void adopt(session& s) noexcept;

    // The protocol hooks (dispatched by the worker; the stream's own
    // bookkeeping is done, and the session is not closing).
    void on_connected(session& s) noexcept;
    void on_bytes(session& s, bool from_client, std::uint16_t bid, std::uint32_t n) noexcept;
    void on_eof(session& s, bool from_client) noexcept;
    void on_error(session& s, bool from_client, int res) noexcept;
    void on_sent(session& s, bool to_client, int res) noexcept;
    void on_timer(session& s) noexcept;
    void refuse(session& s, const char* reason) noexcept;
    void arm_recv(session& s, bool client_side) noexcept;

private:
    void pass_fin(session& s, bool to_client) noexcept;
    void schedule_idle(session& s) noexcept;

    worker_context& ctx_;
};

} // namespace ringway::core
