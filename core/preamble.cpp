// What a client sends before its protocol starts, read by the worker while
// the session is in session_state::handshake:
// - a PROXY protocol header (v1 or v2, proto/proxy) on listeners with
//   proxy_protocol = true, accepted only from proxy_protocol_from; the
//   session then knows the real client (logs, X-Forwarded-For, maglev);
// - the TLS ClientHello (proto/tls) on TCP listeners with SNI routes: the
//   route's pool is picked by its server name and every byte is passed on
//   unchanged (no termination).
// Usually one receive holds it all and nothing is copied; otherwise the bytes
// gather in one block (bounded by the codecs' limits). What follows goes to
// TLS, to the server (L4), or is held for the HTTP protocol's first receive.
#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <sys/socket.h>

#include "core/l4/relay.hpp"
#include "core/log.hpp"
#include "core/tls/transport.hpp"
#include "core/upstream/connector.hpp"
#include "core/worker.hpp"
#include "proto/proxy/proxy_protocol.hpp"
#include "proto/tls/client_hello.hpp"

namespace ringway::core {

namespace {

bool in_network(const config::cidr& n, const sockaddr_storage& a) noexcept {
    const std::uint8_t* bytes = nullptr;
    if (a.ss_family == AF_INET && n.family == AF_INET)
        bytes = reinterpret_cast<const std::uint8_t*>(&reinterpret_cast<const sockaddr_in&>(a).sin_addr);
    else if (a.ss_family == AF_INET6 && n.family == AF_INET6)
        bytes = reinterpret_cast<const std::uint8_t*>(&reinterpret_cast<const sockaddr_in6&>(a).sin6_addr);
    if (bytes == nullptr) return false;
    unsigned full = n.prefix / 8, rest = n.prefix % 8;
    if (std::memcmp(bytes, n.bytes, full) != 0) return false;
    if (rest == 0) return true;
    std::uint8_t mask = std::uint8_t(0xff << (8 - rest));
    return (bytes[full] & mask) == (n.bytes[full] & mask);
}

// "*.example.com" matches a.example.com and a.b.example.com; names are lower-case.
bool name_matches(const std::string& pattern, std::string_view name) noexcept {
    if (pattern.size() > 2 && pattern[0] == '*' && pattern[1] == '.') {
        std::string_view suffix = std::string_view(pattern).substr(1); // ".example.com"
        return name.size() > suffix.size() && name.substr(name.size() - suffix.size()) == suffix;
    }
    return name == pattern;
}

} // namespace

bool worker::proxy_source_allowed(const session& s) noexcept {
    sockaddr_storage peer{};
    if (!stream_io::peer_address(s.client.fd, &peer)) return false;
    for (const auto& n : config_->listeners[s.listener].proxy_protocol_from)
        if (in_network(n, peer)) return true;
    return false;
}

pool_state* worker::sni_route(std::uint32_t listener, std::string_view name) const noexcept {
    const auto& routes = config_->listeners[listener].routes;
    for (std::size_t i = 0; i < routes.size(); ++i) {
        // A route without sni takes the connections that send no name.
        bool match = routes[i].sni.empty() && name.empty();
        for (const auto& p : routes[i].sni) match = match || (!name.empty() && name_matches(p, name));
        if (match) return sni_pools_[listener][i];
    }
    return nullptr;
}

void worker::preamble_start(session& s) noexcept {
    const config::listener& l = config_->listeners[s.listener];
    s.proxy_pending = l.proxy_protocol;
    s.sni_pending = l.protocol == config::protocol_kind::tcp && !l.routes.empty();
    if (s.proxy_pending && !proxy_source_allowed(s)) {
        stats_.proxy_protocol_refused.add();
        ctx_.close(s, true);
        return;
    }
    s.state = session_state::handshake;
    // TLS listeners: handshake_timeout; others min(idle_timeout, 10 s), and
    // 10 s when idle_timeout is off (0).
    std::int64_t idle = l.idle_timeout.count();
    std::int64_t limit = l.tls ? l.tls->handshake_timeout.count()
                               : idle > 0 ? std::min<std::int64_t>(10000, idle) : 10000;
    ctx_.wheel->schedule(&s.idle_timer, ctx_.now() + limit);
    streams_.arm_recv(s.client, false, true, ctx_.recv_ud(s, true));
}

// Reads a PROXY header at the start of `bytes`: *from is set past it (0 while
// more is needed), *need_more when it is not whole yet. False when it is
// malformed (counted, logged at most once a second).
bool worker::preamble_proxy(session& s, std::string_view bytes, std::uint32_t* from,
                            bool* need_more) noexcept {
    auto r = proto::proxy::parse(bytes);
    if (r.status == proto::proxy::parse_status::error) {
        stats_.proxy_protocol_errors.add();
        if (ctx_.now() - last_preamble_log_ms_ >= 1000) {
            last_preamble_log_ms_ = ctx_.now();
            log::warn("proxy_protocol_error").kv("worker", index_).kv("reason", r.reason)
                .kv("total", stats_.proxy_protocol_errors.get());
        }
        return false;
    }
    *need_more = r.status == proto::proxy::parse_status::need_more;
    if (*need_more) return true;
    *from = std::uint32_t(r.consumed);
    if (r.source.ss_family == AF_INET) {
        s.peer.v4 = reinterpret_cast<const sockaddr_in&>(r.source);
        s.proxy_dst.v4 = reinterpret_cast<const sockaddr_in&>(r.destination);
    } else if (r.source.ss_family == AF_INET6) {
        s.peer.v6 = reinterpret_cast<const sockaddr_in6&>(r.source);
        s.proxy_dst.v6 = reinterpret_cast<const sockaddr_in6&>(r.destination);
    } else {
        return true; // LOCAL or UNKNOWN: the connection's own peer stands
    }
    s.key = client_key(r.source);
    s.peer_from_proxy = true;
    return true;
}

// Appends a receive to the bytes gathered so far: returns the buffer that
// holds them all (the receive itself when nothing was gathered), with *n
// set; no_buffer when out of memory (`bid` is recycled then).
std::uint16_t worker::preamble_gather(session& s, std::uint16_t bid, std::uint32_t* n) noexcept {
    if (s.preamble_bid == no_buffer) return bid;
    try {
        buffers_.block(s.preamble_bid).append(buffers_.data(bid), *n);
    } catch (...) {
        buffers_.recycle(bid);
        return no_buffer;
    }
    buffers_.recycle(bid);
    buffers_.seal_block(s.preamble_bid);
    *n = buffers_.meta(s.preamble_bid).length;
    return s.preamble_bid;
}

void worker::preamble_on_recv(session& s, const completion& c) noexcept {
    s.client.recv_armed = false;
    if (c.res > 0) buffers_.taken();
    if (s.state == session_state::closing) {
        if (c.res > 0) buffers_.recycle(completion_bid(c));
        ctx_.maybe_reap(s);
        return;
    }
    if (c.res == -ENOBUFS) { // no free buffer: again when one is back
        ctx_.mark_starved(s, true);
        return;
    }
    if (c.res <= 0) { // gone before it said anything usable
        ctx_.close(s, c.res < 0);
        return;
    }
    auto n = std::uint32_t(c.res);
    std::uint16_t bid = preamble_gather(s, completion_bid(c), &n);
    if (bid == no_buffer) return ctx_.close(s, true);
    std::string_view bytes(buffers_.data(bid), n);
    std::uint32_t from = 0;
    bool need_more = false;
    if (s.proxy_pending && !preamble_proxy(s, bytes, &from, &need_more)) {
        if (bid != s.preamble_bid) buffers_.recycle(bid);
        ctx_.close(s, true);
        return;
    }
    pool_state* routed = nullptr;
    if (!need_more && s.sni_pending && from < n) {
        auto r = proto::tls::read_client_hello(bytes.substr(from));
        need_more = r.status == proto::tls::read_status::need_more;
        if (r.status == proto::tls::read_status::done)
            routed = sni_route(s.listener, r.server_name());
        if (!need_more) (routed != nullptr ? stats_.sni_routed : stats_.sni_default).add();
    }
    if (need_more || from == n) return preamble_keep(s, bid, bytes, need_more);
    if (s.proxy_pending) stats_.proxy_protocol.add();
    s.proxy_pending = false;
    s.sni_pending = false;
    s.preamble_bid = no_buffer; // now `bid` (if it was the block), handed on
    if (routed != nullptr) s.pool = routed;
    preamble_done(s, bid, from, n);
}

// Not all there yet (or a PROXY header with nothing after it): keep what
// came, from the start (the codecs read it again whole), and read on.
void worker::preamble_keep(session& s, std::uint16_t bid, std::string_view bytes,
                           bool need_more) noexcept {
    if (bid != s.preamble_bid) {
        std::uint16_t b = buffers_.take_block();
        if (b == no_buffer) {
            buffers_.recycle(bid);
            ctx_.close(s, true);
            return;
        }
        buffers_.block(b).assign(bytes);
        buffers_.seal_block(b);
        buffers_.recycle(bid);
        s.preamble_bid = b;
    }
    if (!need_more && s.proxy_pending) { // the whole header and nothing after it
        s.proxy_pending = false;
        stats_.proxy_protocol.add();
        buffers_.recycle(s.preamble_bid);
        s.preamble_bid = no_buffer;
        if (!s.sni_pending) return preamble_done(s, no_buffer, 0, 0);
    }
    streams_.arm_recv(s.client, false, false, ctx_.recv_ud(s, true));
}

// The preamble is read: `bid` [from, to) is what followed it (no_buffer: nothing).
void worker::preamble_done(session& s, std::uint16_t bid, std::uint32_t from, std::uint32_t to) noexcept {
    const config::listener& l = config_->listeners[s.listener];
    ctx_.wheel->cancel(&s.idle_timer);
    if (tls_ && tls_registry_->listeners[s.listener]) return tls_accept(s, bid, from, to);
    s.state = session_state::connecting;
    if (l.protocol == config::protocol_kind::tcp) {
        // Passed on as it came: queued for the server, sent once connected.
        if (bid != no_buffer) streams_.queue(s.server, bid, from, to);
        protocol_start(s);
        return;
    }
    if (bid != no_buffer) {
        // Held for the HTTP protocol's first receive, from offset 0.
        std::uint16_t held = bid;
        if (from > 0) {
            held = buffers_.take_block();
            if (held != no_buffer) {
                buffers_.block(held).assign(buffers_.data(bid) + from, to - from);
                buffers_.seal_block(held);
            }
            buffers_.recycle(bid);
            if (held == no_buffer) {
                ctx_.close(s, true);
                return;
            }
        }
        s.client.held = held;
        s.client.held_len = to - from;
    }
    protocol_start(s);
}

// pools.NAME.proxy_protocol: the header goes first on a new server
// connection, before any TLS. A few dozen bytes into a socket just
// connected: sent at once. False when it could not be.
bool worker::send_proxy_header(session& s) noexcept {
    sockaddr_storage src{}, dst{};
    if (s.peer_from_proxy) {
        // What the header we received said, both ends (as HAProxy passes it on).
        if (s.peer.family == AF_INET) {
            std::memcpy(&src, &s.peer.v4, sizeof s.peer.v4);
            std::memcpy(&dst, &s.proxy_dst.v4, sizeof s.proxy_dst.v4);
        } else {
            std::memcpy(&src, &s.peer.v6, sizeof s.peer.v6);
            std::memcpy(&dst, &s.proxy_dst.v6, sizeof s.proxy_dst.v6);
        }
    } else {
        if (!stream_io::peer_address(s.client.fd, &src)) src.ss_family = AF_UNSPEC;
        socklen_t len = sizeof dst;
        if (getsockname(s.client.fd, reinterpret_cast<sockaddr*>(&dst), &len) != 0) dst.ss_family = AF_UNSPEC;
    }
    char header[proto::proxy::max_v1_size + proto::proxy::max_v2_written + 8];
    std::size_t n = s.pool->config().proxy_protocol == config::proxy_protocol_version::v1
                        ? proto::proxy::write_v1(header, src, dst)
                        : proto::proxy::write_v2(reinterpret_cast<std::uint8_t*>(header), src, dst);
    return ::send(s.server.fd, header, n, MSG_DONTWAIT | MSG_NOSIGNAL) == ssize_t(n);
}

} // namespace ringway::core
