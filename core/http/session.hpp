// Per-session state of an HTTP/1.1 session (protocol = "http"): the parsers,
// where the current exchange stands, and what the access log needs. Attached
// to a session while a request is in flight, kept on a spare list between
// (capacity kept: a warm worker does not allocate per request); see
// http_protocol::attach and rest. The state machine is in core/http/.
//
// An exchange is one request and its response. Its phases:
//   head       reading a request head (nothing of it sent anywhere yet)
//   upstream   head parsed and routed; waiting for a server connection
//              (idle pooled one, connect, the pool's queue, or a descriptor)
//   exchange   request (head, then body) streaming to the server, response
//              (1xx, head, body) streaming back; the two overlap freely
//   lingering  the proxy answered with an error and closes: the client's
//              remaining input is read and dropped for up to 1 s, so the
//              close does not reset the answer away
// After a complete exchange the session either starts the next request
// (keep-alive: pipelined bytes already read first) or closes.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "proto/http1/message.hpp"

namespace ringway::core {

class pool_state;

// CLOCK_MONOTONIC in microseconds (access-log durations).
inline std::int64_t http_now_us() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::int64_t(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

enum class http_phase : std::uint8_t { head, upstream, exchange, lingering };

// Why an exchange ended abnormally, for the access log ("" when it did not).
struct http_state {
    http_state()
        : request(proto::http1::message_kind::request),
          response(proto::http1::message_kind::response) {}

    proto::http1::head_parser request;
    proto::http1::head_parser response;
    proto::http1::body_reader request_body;
    proto::http1::body_reader response_body;

    // Client bytes read but not yet parsed: the start of the next pipelined
    // request, or bytes held back until an upgrade is answered.
    std::string leftover;
    std::size_t leftover_offset = 0;
    // The rewritten request head, kept for a retry on another server (only
    // for requests without a body).
    std::string retry_head;
    // Copies for the access log and the response parser (the head's views
    // die with the buffer it came in).
    std::string method;
    std::string target;
    // The client, for X-Forwarded-For and the log; set once per connection.
    std::string client_ip;
    std::string client_addr;

    http_phase phase = http_phase::head;
    int route = -1;                        // route_table::find result
    const config::route* route_config = nullptr;

    bool head_bytes = false;       // part of a request head arrived
    bool request_complete = false; // the client sent the whole request
    bool request_sent = false;     // ... and all of it was sent to the server
    bool response_head = false;    // the final response head arrived
    bool response_complete = false;
    bool response_started = false; // some response byte was queued to the client
    bool client_keep = true;       // the client connection persists after this exchange
    bool server_keep = false;      // the server connection may go back to the pool
    bool retryable = false;        // the request may be sent again (no body)
    bool upgrade = false;          // the client asked for an upgrade
    bool client_http10 = false;    // the request was HTTP/1.0
    bool first_request = true;     // no exchange finished on this connection yet
    bool log = false;              // the listener has an access log
    std::uint16_t status = 0;      // sent to the client (the server's or ours)
    std::uint32_t retries = 0;
    std::uint64_t bytes_in = 0;    // from the client, this exchange
    std::uint64_t bytes_out = 0;   // to the client, this exchange
    std::int64_t start_us = 0;     // first byte of the request (access log only)
    std::int64_t connect_start_us = 0;
    std::int64_t connect_us = -1;
    std::int64_t sent_us = 0;      // request head handed to the server
    std::int64_t response_us = -1;
    std::int64_t phase_since_ms = 0; // when the current wait started (timeouts)
    std::string_view termination;

    // Back to the start of an exchange (the parsers keep their storage).
    void next_exchange() noexcept;
};

} // namespace ringway::core
