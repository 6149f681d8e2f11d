// The stream layer: one `stream` per socket side of a session — its out-queue
// of buffers, the send in flight, receive arming, FIN and close — and
// `stream_io`, the layer's operations over the worker's engine and buffers.
// Protocols (core/l4, core/http) move bytes only through here; they never
// touch the engine or a socket.
//
// A stream carries a transport slot: plain (tls null: bytes go to the socket
// as they are) or TLS (core/tls/transport.hpp: queue/flush take plaintext, which is
// encrypted at once; receives hand plaintext up, one chunk per arm_recv).
//
// Invariants:
// - Queued buffers are sent in order, as they are (no copy); at most one
//   send per stream is in flight; a buffer is recycled when its last byte
//   has been sent (sent()).
// - A stream's socket is closed only with no operation outstanding on it.
// - A stream whose reader stalls while the pool runs low gives its pool
//   buffers back (start_move_out): its queued bytes move to one heap block
//   of their own size, so a few hundred clients that never read cannot
//   empty the pool that every other connection receives into.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/engine/buffer_ring.hpp"
#include "core/engine/engine.hpp"
#include "core/engine/loop.hpp"

namespace ringway::core {

namespace tls {
struct connection;
class transport;
} // namespace tls


struct stream {
    int fd = -1;
    std::uint16_t out_head = no_buffer;  // buffers (linked through buffer_ring::meta)
    std::uint16_t out_tail = no_buffer;
    std::uint32_t out_bytes = 0;         // queued, not yet sent
    bool recv_armed = false;             // a receive is outstanding
    bool send_inflight = false;          // a send is outstanding
    bool eof = false;                    // the peer sent FIN
    bool shut = false;                   // we sent FIN
    bool paused = false;                 // reading stopped: the other side's queue is full
    bool starved = false;                // waiting for free buffers to re-arm the receive
    bool move_out = false;               // send cancelled to move the queue out of the pool
    std::int64_t send_since_ms = 0;      // when the send in flight was submitted
    tls::connection* tls = nullptr;      // the transport: null for plain
    // Bytes received before the protocol started (after a PROXY header),
    // handed up at the protocol's first arm_recv: buffer `held`, [0, held_len).
    std::uint16_t held = no_buffer;
    std::uint32_t held_len = 0;
    msghdr msg{};
    iovec iov[8];

    // A TLS stream whose handshake is not done (stream.cpp).
    bool tls_handshaking() const noexcept;
    // Nothing queued and no send in flight.
    bool drained() const noexcept { return !send_inflight && out_head == no_buffer; }
    // The socket went away (closed or handed to the pool): its state goes,
    // its queue stays (it may hold what is to be sent on the next one).
    void forget_socket() noexcept {
        fd = -1;
        eof = shut = starved = paused = false;
    }
};

// The operations of the stream layer. One per worker; worker thread only.
class stream_io {
public:
    stream_io(event_loop& l, buffer_ring& b) noexcept : loop_(&l), buffers_(&b) {}
    // Where streams that have bytes at hand when armed (held bytes, TLS
    // plaintext or ciphertext) are listed by their receive tag: the worker
    // delivers them after the batch (worker::deliver_ready).
    void set_ready(std::vector<std::uint64_t>* ready) noexcept { ready_ = ready; }
    // The worker's TLS transport.
    void set_tls(tls::transport* t) noexcept { tls_ = t; }
    tls::transport* tls() const noexcept { return tls_; }

    // Queues bytes [from, to) of buffer `bid` (a receive buffer or a block).
    void queue(stream& s, std::uint16_t bid, std::uint32_t from, std::uint32_t to) noexcept;
    // Copies `bytes` into a block and queues it; false when no block is left.
    bool queue_copy(stream& s, std::string_view bytes) noexcept;
    // Writes a block with `write(std::string&)` and queues it. Returns the
    // bytes queued; 0 when no block or no memory was left.
    template <typename Write> std::uint32_t queue_written(stream& s, Write&& write) noexcept;
    // Recycles every buffer queued on `s`.
    void drop_queue(stream& s) noexcept;

    // Sends what is queued if no send is in flight; the send completes under `ud`.
    // TLS: encrypts what is queued even while a send is in flight.
    void flush(stream& s, std::uint64_t ud) noexcept;
    // A send of `n` bytes completed: recycles what was sent whole; when the
    // send was cancelled for move_out, moves what is left out of the pool.
    // TLS: `n` is the plaintext tls_sent() reported.
    void sent(stream& s, std::uint32_t n) noexcept;
    // TLS: a send of ciphertext completed with `res`. Returns what the
    // protocol is to hear (plaintext bytes now out, 0 when the stream is
    // now drained, a negative errno), or 1 << 30 when it need not hear of it.
    int tls_sent(stream& s, int res, std::uint64_t ud) noexcept;
    static constexpr int tls_quiet = 1 << 30;
    // TLS: sends what OpenSSL wrote (an alert) at once, best effort, without
    // an operation left outstanding; when nothing is in flight.
    void tls_send_now(stream& s) noexcept;
    // TLS: ciphertext [from, to) of `bid` (to == 0: the socket's end).
    void tls_input(stream& s, std::uint16_t bid, std::uint32_t from, std::uint32_t to) noexcept;
    // TLS: a receive on the socket for the transport itself (handshake, or
    // ciphertext for an arm_recv) under `ud`.
    void tls_arm_socket(stream& s, bool poll_first, std::uint64_t ud) noexcept;
    // A stream whose send has waited `stall_ms` or more while it holds pool
    // buffers (its reader is not reading): cancels the send, so that sent()
    // then copies its queue into one heap block and gives the pool buffers
    // back. Returns whether it did. The worker calls this under pressure.
    bool start_move_out(stream& s, std::uint64_t send_ud, std::int64_t stall_ms) noexcept;
    // Arms a receive into the worker's buffers under `ud`.
    void arm_recv(stream& s, bool multishot, bool poll_first, std::uint64_t ud) noexcept;
    // Cancels an outstanding operation of `s`.
    // TLS: a receive that is only a pending delivery is dropped at once.
    void cancel(stream& s, std::uint64_t ud) noexcept;
    // Sends FIN (shutdown of the write side) once; callers wait for drained().
    // TLS: close_notify first, sent under `send_ud`, then FIN.
    void shutdown_write(stream& s, std::uint64_t send_ud) noexcept;
    // Closes the socket (with RST when `reset`) and forgets the stream's
    // queue and its TLS state (close_notify first unless `reset`). Nothing
    // may be outstanding on it.
    void close(stream& s, bool reset) noexcept;
    // Frees the TLS state of `s` (close_notify first when `orderly`); the
    // socket stays open. Nothing may be outstanding on it.
    void drop_tls(stream& s, bool orderly) noexcept;
    // Closes a bare descriptor (a pooled connection, a refused client).
    void close_fd(int fd) noexcept { loop_->io().close_fd(fd); }
    // A pooled connection is still usable: open, nothing unread (a server
    // that closed it left a FIN; one that sent garbage left bytes).
    bool idle_usable(int fd) noexcept;
    // The peer's address of `fd`; false when it has none.
    static bool peer_address(int fd, sockaddr_storage* out) noexcept;

private:
    // Copies the queue into one block and recycles its buffers.
    void move_queue_out(stream& s) noexcept;

    void flush_tls(stream& s, std::uint64_t ud) noexcept;
    void send_tls_block(stream& s, std::uint64_t ud) noexcept;

    event_loop* loop_;
    buffer_ring* buffers_;
    tls::transport* tls_ = nullptr;
    std::vector<std::uint64_t>* ready_ = nullptr;
};

template <typename Write>
std::uint32_t stream_io::queue_written(stream& s, Write&& write) noexcept {
    std::uint16_t b = buffers_->take_block();
    if (b == no_buffer) return 0;
    try {
        write(buffers_->block(b));
    } catch (...) {
        buffers_->recycle(b);
        return 0;
    }
    buffers_->seal_block(b);
    std::uint32_t n = buffers_->meta(b).length;
    queue(s, b, 0, n);
    return n;
}

} // namespace ringway::core
