// Tagged io_uring user_data: every completion says which operation it ends,
// on which slot, and for which generation of that slot, so a completion that
// arrives after its slot was reused is recognised and dropped.
#pragma once

#include <cstdint>

namespace ringway::core {

// What a completion belongs to. One handler per kind in the worker's switch.
enum class op_kind : std::uint8_t {
    ignore = 0,       // cancel requests and the like: nothing to do
    accept,           // slot = listener socket index in the worker
    accept_backoff,   // timeout before re-arming accept after EMFILE
    wake,             // eventfd read: a command from the control thread
    tick,             // the timer wheel's timeout
    connect,          // slot = session
    connect_timeout,  // the LINK_TIMEOUT after a connect
    recv_client,      // multishot recv on the client socket
    recv_server,      // multishot recv on the server socket
    send_client,      // sendmsg to the client (data that came from the server)
    send_server,      // sendmsg to the server (data that came from the client)
    signal,           // control thread: signalfd read
    drain_deadline,   // control thread: drain timeout
    log_write,        // slot = access log index in the worker: a write completed
};

// Layout: kind (8 bits) | generation (24 bits) | slot (32 bits).
struct tag {
    op_kind kind;
    std::uint32_t generation; // only the low 24 bits are kept
    std::uint32_t slot;
};

constexpr std::uint64_t encode(op_kind kind, std::uint32_t generation,
                               std::uint32_t slot) noexcept {
    return (std::uint64_t(kind) << 56) | (std::uint64_t(generation & 0xffffffu) << 32) | slot;
}

constexpr tag decode(std::uint64_t user_data) noexcept {
    return tag{op_kind(user_data >> 56), std::uint32_t(user_data >> 32) & 0xffffffu,
               std::uint32_t(user_data)};
}

constexpr std::uint32_t generation_mask = 0xffffffu;

} // namespace ringway::core
