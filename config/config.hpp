// Plain data for the whole configuration. No I/O, no behaviour: the loader
// (config/loader.hpp) fills these, validation guarantees the invariants noted
// beside each field, and the engine only ever reads an immutable copy.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/units.hpp"

namespace ringway::config {

// [runtime]: process-wide settings.
struct runtime {
    // Worker threads; 0 means "auto" (one per online CPU).
    unsigned workers = 0;
    // Client connections the whole process holds at once; split evenly across
    // workers (each gets ceil(max / workers)). Past it, accepting pauses.
    std::uint32_t max_connections = 8192;
    // How long in-flight connections may run after SIGTERM before exit.
    duration drain_timeout = std::chrono::seconds(30);
    // Provided-buffer ring of each worker: count (power of two) and size.
    std::uint32_t buffers = 1024;
    std::uint32_t buffer_size = 16 * 1024;
};

enum class protocol_kind { tcp, http };

// [[listeners]]: where clients arrive and which pool serves them.
struct listener {
    std::string name;               // unique among listeners
    std::vector<address> listen;    // at least one; port 0 = kernel-chosen
    protocol_kind protocol = protocol_kind::tcp;
    std::string pool;               // names an entry of root::pools
    duration idle_timeout = std::chrono::seconds(60); // no bytes either way
    std::uint32_t backlog = 1024;
};

enum class balance_kind { round_robin, least_conn, p2c, random, maglev };

struct server {
    address addr;
    std::uint32_t weight = 1;       // 1..256
    bool backup = false;            // used only when every primary failed
};

// [pools.NAME]: a set of servers and how to pick among them.
struct pool {
    std::string name;               // the table key
    balance_kind balance = balance_kind::round_robin;
    std::vector<server> servers;    // at least one
    duration connect_timeout = std::chrono::seconds(5);
    // Further servers tried after a failed connect, before giving up.
    std::uint32_t retries = 2;
};

// The whole file.
struct root {
    struct runtime runtime;
    std::vector<listener> listeners;
    std::map<std::string, pool> pools;  // by name
};

} // namespace ringway::config
