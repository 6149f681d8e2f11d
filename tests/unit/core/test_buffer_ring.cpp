#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

#include "core/buffer_ring.hpp"
#include "core/uring.hpp"

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
