#include <doctest/doctest.h>

#include "core/engine/user_data.hpp"

using namespace ringway::core;

TEST_CASE("user_data: kind, generation and slot survive the round trip") {
    std::uint64_t ud = encode(op_kind::recv_server, 0x123456, 0xfedcba98);
    tag t = decode(ud);
    CHECK(t.kind == op_kind::recv_server);
    CHECK(t.generation == 0x123456);
    CHECK(t.slot == 0xfedcba98);
}

TEST_CASE("user_data: generations wrap at 24 bits without touching the kind") {
    std::uint64_t ud = encode(op_kind::send_client, 0x1000001, 5);
    tag t = decode(ud);
    CHECK(t.kind == op_kind::send_client);
    CHECK(t.generation == 1);
    CHECK(t.slot == 5);
}
