// A listening TCP socket on 127.0.0.1, port 0, for tests that run their own
// small servers next to the code under test.
#pragma once

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <cstdint>
#include <netinet/in.h>
#include <sys/socket.h>

namespace ringway::test {

// Listens on 127.0.0.1 with a kernel-chosen port, stored in *port; returns
// the descriptor (the caller closes it). Fails the test case on error.
inline int loopback_listener(int backlog, std::uint16_t* port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(listen(fd, backlog) == 0);
    socklen_t len = sizeof a;
    REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    *port = ntohs(a.sin_port);
    return fd;
}

} // namespace ringway::test
