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

// The operator's say over a server (the admin API changes it at run time).
enum class admin_state { active, drain, disabled };

struct server {
    address addr;
    std::uint32_t weight = 1;       // 1..256
    bool backup = false;            // used only when no primary is available
    // Connections at once from the whole process (split across workers,
    // ceil(max / workers) each); 0 = no limit. A full server is skipped.
    std::uint32_t max_connections = 0;
    // After a server comes back up, its weight ramps from ~0 to `weight`
    // over this window; 0 = at once.
    duration slow_start = duration(0);
    // `drain`: no new connections, existing ones run on; `disabled`: none.
    admin_state state = admin_state::active;
};

enum class health_kind { tcp, http };

// An inclusive range of HTTP status codes, e.g. 200..399.
struct status_range {
    std::uint16_t low = 200;
    std::uint16_t high = 399;
};

// pools.NAME.health: active checks run by the control side, never by workers.
struct health_check {
    health_kind kind = health_kind::tcp;
    duration interval = std::chrono::seconds(2);
    duration timeout = std::chrono::seconds(1);
    // Interval while a server is between states (some passes or fails counted,
    // not yet rise/fall of them).
    duration fast_interval = std::chrono::milliseconds(500);
    // Each check is delayed by a random 0..jitter so checks of many servers
    // spread out; default: a tenth of `interval`.
    std::optional<duration> jitter;
    std::uint32_t rise = 2;         // passes in a row to go up, 1..100
    std::uint32_t fall = 3;         // failures in a row to go down, 1..100
    // Servers start `unknown` and take traffic (false), or start down and
    // take none until they pass `rise` checks (true).
    bool start_down = false;
    // http only:
    std::string method = "GET";
    std::string path = "/";
    std::string host;               // empty: the server's address
    std::vector<status_range> expect_status{status_range{200, 399}};
    std::string expect_body;        // substring the body must contain; empty: any
};

// pools.NAME.passive: outlier ejection from real traffic.
struct passive_check {
    // Consecutive connect failures (from all workers) that eject a server;
    // 0 = passive checks off.
    std::uint32_t consecutive_failures = 5;
    // First ejection lasts base_ejection; each further one of the same server
    // doubles it, up to max_ejection. A server that stays up for max_ejection
    // starts over from the base.
    duration base_ejection = std::chrono::seconds(10);
    duration max_ejection = std::chrono::minutes(5);
    // Never eject more than this share of the pool's servers at once.
    std::uint32_t max_ejected_percent = 50;
};

// pools.NAME.queue: where clients wait when every server is full.
struct queue_config {
    std::uint32_t size = 0;         // clients per worker; 0 = refuse at once
    duration timeout = std::chrono::seconds(5);
};

// pools.NAME.maglev: options of balance = "maglev".
struct maglev_config {
    std::uint32_t table_size = 65537;   // a prime, > 100 x servers is wise
    // 0 = off; else no server takes more than factor x the average load
    // (in-flight connections of this worker), e.g. 1.25.
    double bounded_load = 0.0;
};

// [pools.NAME]: a set of servers and how to pick among them.
struct pool {
    std::string name;               // the table key
    balance_kind balance = balance_kind::p2c;
    std::vector<server> servers;    // at least one
    duration connect_timeout = std::chrono::seconds(5);
    // Further servers tried after a failed connect, before giving up.
    std::uint32_t retries = 2;
    std::optional<health_check> health;  // no table: no active checks
    passive_check passive;
    queue_config queue;
    maglev_config maglev;
};

// The whole file.
struct root {
    struct runtime runtime;
    std::vector<listener> listeners;
    std::map<std::string, pool> pools;  // by name
};

} // namespace ringway::config
