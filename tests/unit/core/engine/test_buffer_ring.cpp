#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>
#include <sys/socket.h>
#include <unistd.h>

#include "core/engine/buffer_ring.hpp"
#include "core/engine/uring.hpp"

using namespace ringway::core;

TEST_CASE("buffer_ring: the kernel fills provided buffers and takes recycled ones back") {
    uring_features f;
    std::string why;
    if (!probe_features(&f, &why)) {
        // A missing kernel feature is a skip, never a pass (CTest SKIP_RETURN_CODE).
        MESSAGE("skipped: io_uring unavailable: " << why);
        std::exit(77);
    }
    uring ring;
    REQUIRE(ring.init(8, uring_features{}) == 0);
    buffer_ring bufs;
    REQUIRE(bufs.init(ring.raw(), 2, 64, 3) == 0);
    CHECK(bufs.free_count() == 2);
    CHECK(bufs.init(ring.raw(), 3, 64, 4) == -EINVAL); // not a power of two

    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    // Three messages through two buffers: the third recv finds the ring empty
    // until a buffer is recycled.
    auto recv_one = [&](const char* msg) -> int {
        io_uring_sqe* sqe = ring.sqe();
        io_uring_prep_recv(sqe, sv[0], nullptr, 0, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = bufs.group();
        REQUIRE(write(sv[1], msg, std::strlen(msg)) == ssize_t(std::strlen(msg)));
        ring.submit_and_wait(1);
        io_uring_cqe* cqe = nullptr;
        REQUIRE(io_uring_peek_cqe(ring.raw(), &cqe) == 0);
        int res = cqe->res;
        int bid = -1;
        if (res > 0) {
            REQUIRE((cqe->flags & IORING_CQE_F_BUFFER) != 0);
            bid = int(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
            CHECK(std::string(bufs.data(std::uint16_t(bid)), std::size_t(res)) == msg);
            bufs.taken();
        }
        io_uring_cqe_seen(ring.raw(), cqe);
        return res > 0 ? bid : res;
    };
    int a = recv_one("first");
    int b = recv_one("second");
    CHECK(a >= 0);
    CHECK(b >= 0);
    CHECK(a != b);
    CHECK(bufs.free_count() == 0);
    CHECK(recv_one("third") == -ENOBUFS);
    bufs.recycle(std::uint16_t(a));
    bufs.publish();
    CHECK(bufs.free_count() == 1);
    char drain[16];
    CHECK(read(sv[0], drain, sizeof drain) == 5); // "third" is still in the socket
    CHECK(recv_one("fourth") == a);
    close(sv[0]);
    close(sv[1]);
}

TEST_CASE("buffer_ring: blocks queue like buffers, keep their memory, never reach the kernel") {
    uring_features f;
    std::string why;
    if (!probe_features(&f, &why)) {
        MESSAGE("skipped: io_uring unavailable: " << why);
        std::exit(77);
    }
    uring ring;
    REQUIRE(ring.init(8, uring_features{}) == 0);
    buffer_ring bufs;
    REQUIRE(bufs.init(ring.raw(), 4, 64, 5) == 0);
    std::uint16_t a = bufs.take_block();
    std::uint16_t b = bufs.take_block();
    REQUIRE(a != no_buffer);
    REQUIRE(b != no_buffer);
    CHECK(a != b);
    CHECK(bufs.is_block(a));
    CHECK_FALSE(bufs.is_block(3));
    CHECK(bufs.free_count() == 4); // blocks are not kernel buffers
    bufs.block(a) = "GET / HTTP/1.1\r\n\r\n";
    bufs.seal_block(a);
    CHECK(bufs.meta(a).length == 18);
    CHECK(std::string(bufs.data(a), 18) == "GET / HTTP/1.1\r\n\r\n");
    // Taking more blocks never moves one already handed out.
    const char* before = bufs.data(a);
    std::vector<std::uint16_t> more;
    for (int i = 0; i < 100; ++i) more.push_back(bufs.take_block());
    CHECK(bufs.data(a) == before);
    for (auto id : more) bufs.recycle(id);
    bufs.recycle(a);
    CHECK(bufs.free_count() == 4);
    // A recycled block comes back empty, with its capacity.
    std::uint16_t c = bufs.take_block();
    CHECK(bufs.is_block(c));
    CHECK(bufs.block(c).empty());
    CHECK(bufs.meta(c).length == 0);
    bufs.recycle(b);
    bufs.recycle(c);
}
