// Listening sockets: opened by the control thread before any worker starts, so
// a bad or busy address is reported before anything runs. Each worker gets its
// own SO_REUSEPORT socket per IP address (the kernel spreads connections over
// them) and its own dup of a unix socket.
#pragma once

#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/worker.hpp"

namespace ringway::core {

// An address actually bound (port 0 in the config replaced by the real one).
struct bound_address {
    std::uint32_t listener = 0;  // index into config::root::listeners
    config::address address;
};

// Opens every listen address of `cfg` for `workers` workers. On success fills
// `per_worker` (one vector per worker) and `bound`, and returns true; on
// failure closes what it opened, sets *why ("listeners[0].listen[1]:
// 127.0.0.1:80: address already in use") and returns false.
bool open_listen_sockets(const config::root& cfg, unsigned workers,
                         std::vector<std::vector<listen_socket>>* per_worker,
                         std::vector<bound_address>* bound, std::string* why);

} // namespace ringway::core
