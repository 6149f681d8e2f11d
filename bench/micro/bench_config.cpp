// Micro-benchmark of the config loader (config/loader.hpp): parsing and
// validating a realistic file — three listeners, three pools (round robin,
// least_conn with HTTP health checks, maglev with a queue) — from text.
//
// The argument is the number of servers in each pool (1, 8, 64). The text is
// built once outside the timed loop; each iteration is one whole load_string(),
// TOML parse, validation and the config::root it returns, freed at the end of
// the iteration as a reload would. Counters: loads/s (items) and bytes/s of
// TOML text.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <variant>

#include "config/loader.hpp"

namespace {

using ringway::config::load_error;
using ringway::config::load_string;
using ringway::config::root;

// `n` servers on 10.<net>.0.x:<port>, one per line, as an inline-table array.
std::string servers(int n, int net, int port, bool with_limits) {
    std::string out = "servers = [\n";
    for (int i = 0; i < n; ++i) {
        out += "  { address = \"10." + std::to_string(net) + "." + std::to_string(i / 250) + "." +
               std::to_string(i % 250 + 1) + ":" + std::to_string(port) + "\"";
        out += ", weight = " + std::to_string(1 + i % 4);
        if (with_limits) out += ", max_connections = 2000, slow_start = \"30s\"";
        if (i == n - 1 && n > 1) out += ", backup = true";
        out += " },\n";
    }
    return out + "]\n";
}

// The file: what an operator running three services on one box might write.
std::string realistic_config(int per_pool) {
    std::string text = R"(# ringway in front of three services: web, api and a sticky cache tier.
[runtime]
workers = 2
max_connections = 20000
drain_timeout = "20s"
buffers = 2048

[[listeners]]
name = "web"
listen = ["0.0.0.0:80", "[::]:80"]
protocol = "tcp"
pool = "web"
idle_timeout = "5m"
backlog = 4096

[[listeners]]
name = "api"
listen = ["127.0.0.1:8443"]
protocol = "tcp"
pool = "api"
idle_timeout = "90s"

[[listeners]]
name = "cache"
listen = ["10.0.0.1:11211"]
pool = "cache"
idle_timeout = "10m"

[pools.web]
balance = "round_robin"
connect_timeout = "2s"
retries = 2
)";
    text += servers(per_pool, 1, 8080, false);
    text += R"(health = { kind = "tcp", interval = "2s", timeout = "1s", rise = 2, fall = 3 }

[pools.api]
balance = "least_conn"
connect_timeout = "500ms"
retries = 1
)";
    text += servers(per_pool, 2, 9000, true);
    text += R"(passive = { consecutive_failures = 5, base_ejection = "10s", max_ejection = "5m", max_ejected_percent = 30 }
queue = { size = 256, timeout = "250ms" }

[pools.api.health]
kind = "http"
interval = "5s"
timeout = "2s"
fast_interval = "1s"
jitter = "500ms"
method = "GET"
path = "/healthz"
host = "api.internal"
expect_status = [200, "300-399"]
expect_body = "ok"

[pools.cache]
balance = "maglev"
connect_timeout = "1s"
)";
    text += servers(per_pool, 3, 11211, false);
    text += "maglev = { table_size = 65537, bounded_load = 1.25 }\n";
    return text;
}

void BM_config_load(benchmark::State& state) {
    const std::string text = realistic_config(static_cast<int>(state.range(0)));
    {
        // Untimed: the file must load, or the benchmark would time error paths.
        auto r = load_string(text, "bench.toml");
        if (const auto* e = std::get_if<load_error>(&r)) {
            state.SkipWithError(("config does not load: " + e->message).c_str());
            return;
        }
        const root& cfg = std::get<root>(r);
        if (cfg.listeners.size() != 3 || cfg.pools.size() != 3) {
            state.SkipWithError("config loaded with the wrong shape");
            return;
        }
    }
    for (auto _ : state) {
        auto r = load_string(text, "bench.toml");
        benchmark::DoNotOptimize(r);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
    state.counters["file_bytes"] = static_cast<double>(text.size());
}

BENCHMARK(BM_config_load)->ArgName("servers_per_pool")->Arg(1)->Arg(8)->Arg(64);

} // namespace
