// The stream layer over both engines: queued buffers go out in order in one
// send, a partial send recycles only what was sent whole, FIN is sent once,
// and a pooled connection is judged usable only when clean.
#include <doctest/doctest.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

#include "core/engine/engine.hpp"
#include "core/engine/loop.hpp"
#include "core/stream/stream.hpp"

using namespace ringway::core;

namespace {

// One completion from `e` (waits for it).
completion next_completion(engine& e) {
    completion got{};
    unsigned n = 0;
    for (int i = 0; i < 100 && n == 0; ++i) {
        e.wait();
        e.drain([&](const completion& c) {
            got = c;
            ++n;
        });
    }
    REQUIRE(n == 1);
    return got;
}

struct fixture {
    event_loop loop;
    engine& e = loop.io();
    buffer_ring buffers;
    int sv[2] = {-1, -1};

    bool init(engine_kind k) {
        uring_features f;
        std::string why;
        if (k == engine_kind::io_uring && !probe_features(&f, &why)) {
            // A missing kernel feature is a skip, never a pass (CTest SKIP_RETURN_CODE).
            MESSAGE("skipped: io_uring unavailable: " << why);
            std::exit(77);
        }
        REQUIRE(loop.init(k, 64, f, "test", &why) == 0);
        REQUIRE(e.attach_buffers(buffers, 4, 64) == 0);
        REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
        return true;
    }
    ~fixture() {
        buffers.release();
        if (sv[0] >= 0) ::close(sv[0]);
        if (sv[1] >= 0) ::close(sv[1]);
    }
};

void queues_and_sends(engine_kind k) {
    fixture fx;
    if (!fx.init(k)) return;
    stream_io io(fx.loop, fx.buffers);
    stream s;
    s.fd = fx.sv[0];
    CHECK(io.queue_copy(s, "hello, "));
    CHECK(io.queue_copy(s, "world"));
    CHECK(s.out_bytes == 12);
    io.flush(s, encode(op_kind::send_client, 1, 42));
    CHECK(s.send_inflight);
    io.flush(s, encode(op_kind::send_client, 1, 43)); // one send at a time: nothing more is submitted
    completion c = next_completion(fx.e);
    CHECK(c.user_data == encode(op_kind::send_client, 1, 42));
    REQUIRE(c.res == 12);
    s.send_inflight = false;
    // A partial send: the first block is recycled, the second is not.
    io.sent(s, 8);
    CHECK(s.out_bytes == 4);
    CHECK(s.out_head != no_buffer);
    CHECK(s.out_head == s.out_tail);
    io.sent(s, 4);
    CHECK(s.drained());
    char got[32] = {};
    CHECK(::read(fx.sv[1], got, sizeof got) == 12);
    CHECK(std::string(got) == "hello, world");

    // FIN once; the peer sees end of file.
    io.shutdown_write(s, 0);
    io.shutdown_write(s, 0);
    CHECK(s.shut);
    CHECK(::read(fx.sv[1], got, sizeof got) == 0);
    s.fd = -1; // the fixture closes it
}

void receives_into_the_pool(engine_kind k) {
    fixture fx;
    if (!fx.init(k)) return;
    stream_io io(fx.loop, fx.buffers);
    stream s;
    s.fd = fx.sv[0];
    REQUIRE(::write(fx.sv[1], "abc", 3) == 3);
    io.arm_recv(s, false, false, encode(op_kind::recv_client, 1, 7));
    CHECK(s.recv_armed);
    completion c = next_completion(fx.e);
    CHECK(c.user_data == encode(op_kind::recv_client, 1, 7));
    REQUIRE(c.res == 3);
    REQUIRE((c.flags & completion_buffer) != 0);
    std::uint16_t bid = completion_bid(c);
    fx.buffers.taken();
    CHECK(std::memcmp(fx.buffers.data(bid), "abc", 3) == 0);
    // Queued on another stream as it is, then dropped: back in the pool.
    stream out;
    io.queue(out, bid, 0, 3);
    CHECK(out.out_bytes == 3);
    std::uint32_t before = fx.buffers.free_count();
    io.drop_queue(out);
    CHECK(fx.buffers.free_count() == before + 1);
    CHECK(out.drained());
}

void judges_pooled_connections(engine_kind k) {
    fixture fx;
    if (!fx.init(k)) return;
    stream_io io(fx.loop, fx.buffers);
    CHECK(io.idle_usable(fx.sv[0]));           // open, nothing unread
    REQUIRE(::write(fx.sv[1], "x", 1) == 1);
    CHECK_FALSE(io.idle_usable(fx.sv[0]));     // stray bytes
    char b;
    REQUIRE(::read(fx.sv[0], &b, 1) == 1);
    ::shutdown(fx.sv[1], SHUT_WR);
    CHECK_FALSE(io.idle_usable(fx.sv[0]));     // the server closed it
}

// A reader that never reads: its stalled send is cancelled and its queue
// moves out of the pool into one block, nothing lost, nothing reordered.
void moves_a_stalled_queue_out(engine_kind k) {
    fixture fx;
    if (!fx.init(k)) return;
    stream_io io(fx.loop, fx.buffers);
    int small = 4096;
    setsockopt(fx.sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    // Fill the socket buffers until a send no longer goes through.
    std::string chunk(4096, 'f');
    while (::send(fx.sv[0], chunk.data(), chunk.size(), MSG_DONTWAIT) > 0) {
    }
    // Two pool buffers' worth, received the way a worker receives them.
    stream s;
    s.fd = fx.sv[0];
    int pipe_fds[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pipe_fds) == 0);
    stream in;
    in.fd = pipe_fds[0];
    for (const char* text : {"first-", "second"}) {
        REQUIRE(::write(pipe_fds[1], text, 6) == 6);
        io.arm_recv(in, false, false, encode(op_kind::recv_client, 1, 1));
        completion c = next_completion(fx.e);
        REQUIRE(c.res == 6);
        fx.buffers.taken();
        io.queue(s, completion_bid(c), 0, 6);
    }
    CHECK(fx.buffers.free_count() == 2);
    std::uint64_t ud = encode(op_kind::send_client, 1, 5);
    io.flush(s, ud);
    CHECK_FALSE(io.start_move_out(s, ud, 60000)); // not stalled long enough yet
    REQUIRE(io.start_move_out(s, ud, 0));
    completion c = next_completion(fx.e);
    CHECK(c.user_data == ud);
    CHECK(c.res == -ECANCELED);
    s.send_inflight = false;
    io.sent(s, 0);
    CHECK(fx.buffers.free_count() == 4);  // both pool buffers are back
    REQUIRE(s.out_head != no_buffer);
    CHECK(fx.buffers.is_block(s.out_head));
    CHECK(s.out_head == s.out_tail);
    CHECK(s.out_bytes == 12);
    const auto& m = fx.buffers.meta(s.out_head);
    CHECK(std::string(fx.buffers.data(s.out_head) + m.offset, m.length - m.offset) ==
          "first-second");
    io.drop_queue(s);
    s.fd = -1;
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
}

} // namespace

TEST_CASE("stream: a stalled queue moves out of the pool (epoll)") {
    moves_a_stalled_queue_out(engine_kind::epoll);
}

TEST_CASE("stream: a stalled queue moves out of the pool (io_uring)") {
    moves_a_stalled_queue_out(engine_kind::io_uring);
}

TEST_CASE("stream: queued buffers go out in order, partial sends recycle what was sent (epoll)") {
    queues_and_sends(engine_kind::epoll);
}

TEST_CASE("stream: queued buffers go out in order, partial sends recycle what was sent (io_uring)") {
    queues_and_sends(engine_kind::io_uring);
}

TEST_CASE("stream: receives land in the worker's buffer pool (epoll)") {
    receives_into_the_pool(engine_kind::epoll);
}

TEST_CASE("stream: receives land in the worker's buffer pool (io_uring)") {
    receives_into_the_pool(engine_kind::io_uring);
}

TEST_CASE("stream: a pooled connection is usable only when open with nothing unread") {
    judges_pooled_connections(engine_kind::epoll);
}
