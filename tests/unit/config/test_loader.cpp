// The TOML loader (config/loader.hpp): good files, and the wording, position and
// completeness of what it says about bad ones.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>

#include <unistd.h>

#include "config/loader.hpp"
#include "tests/unit/config/loader_test_util.hpp"

using namespace ringway::config;
using namespace ringway::config::test;
using std::chrono::milliseconds;
using std::chrono::seconds;

// ------------------------------------------------------------------ good files

TEST_CASE("loader: a minimal file gets every default") {
    const root r = load_ok(minimal);
    CHECK(r.runtime.workers == 0);
    CHECK(r.runtime.max_connections == 8192);
    CHECK(r.runtime.drain_timeout == seconds(30));
    CHECK(r.runtime.buffers == 1024);
    CHECK(r.runtime.buffer_size == 16 * 1024);
    CHECK(r.runtime.io_engine == io_engine_kind::automatic);
    REQUIRE(r.listeners.size() == 1);
    const listener& l = r.listeners[0];
    CHECK(l.name == "web");
    REQUIRE(l.listen.size() == 1);
    CHECK(l.listen[0].to_string() == "127.0.0.1:8080");
    CHECK(l.protocol == protocol_kind::tcp);
    CHECK(l.pool == "web");
    CHECK(l.idle_timeout == seconds(60));
    CHECK(l.backlog == 1024);
    REQUIRE(r.pools.count("web") == 1);
    const pool& p = r.pools.at("web");
    CHECK(p.name == "web");
    // The loader's own default, whatever config.hpp's in-class one says.
    CHECK(p.balance == balance_kind::p2c);
    CHECK(p.connect_timeout == seconds(5));
    CHECK(p.retries == 2);
    REQUIRE(p.servers.size() == 1);
    CHECK(p.servers[0].addr.to_string() == "10.0.0.1:80");
    CHECK(p.servers[0].weight == 1);
    CHECK_FALSE(p.servers[0].backup);
    CHECK(p.servers[0].max_connections == 0);
    CHECK(p.servers[0].slow_start == milliseconds(0));
    CHECK(p.servers[0].state == admin_state::active);
    CHECK_FALSE(p.health.has_value());
    CHECK(p.passive.consecutive_failures == 5);
    CHECK(p.passive.consecutive_5xx == 0); // answers are not judged unless asked
    CHECK(p.passive.consecutive_gateway_failures == 0);
    CHECK(p.passive.base_ejection == seconds(10));
    CHECK(p.passive.max_ejection == seconds(300));
    CHECK(p.passive.max_ejected_percent == 50);
    CHECK(p.queue.size == 0);
    CHECK(p.queue.timeout == seconds(5));
    CHECK(p.maglev.table_size == 65537);
    CHECK(p.maglev.bounded_load == 0.0);
}

TEST_CASE("loader: a file with every key") {
    const root r = load_ok(R"(
[runtime]
workers = 4
max_connections = 50_000
drain_timeout = "1m30s"
buffers = 4096
buffer_size = "64KiB"
io_engine = "epoll"

[[listeners]]
name = "db"
listen = ["127.0.0.1:5000", "[::1]:5000"]
protocol = "tcp"
pool = "db"
idle_timeout = "10m"
backlog = 4096

[pools.db]
balance = "round_robin"
connect_timeout = "250ms"
retries = 0
servers = [
  { address = "10.0.0.11:8080", weight = 2 },
  { address = "10.0.0.12:8080" },
  { address = "10.0.0.13:8080", backup = true },
]
)");
    CHECK(r.runtime.workers == 4);
    CHECK(r.runtime.max_connections == 50000);
    CHECK(r.runtime.drain_timeout == seconds(90));
    CHECK(r.runtime.buffers == 4096);
    CHECK(r.runtime.buffer_size == 64 * 1024);
    CHECK(r.runtime.io_engine == io_engine_kind::epoll);
    const listener& l = r.listeners.at(0);
    CHECK(l.idle_timeout == seconds(600));
    CHECK(l.backlog == 4096);
    REQUIRE(l.listen.size() == 2);
    CHECK(l.listen[1].family() == AF_INET6);
    const pool& p = r.pools.at("db");
    CHECK(p.balance == balance_kind::round_robin);
    CHECK(p.connect_timeout == milliseconds(250));
    CHECK(p.retries == 0);
    REQUIRE(p.servers.size() == 3);
    CHECK(p.servers[0].weight == 2);
    CHECK(p.servers[1].weight == 1);
    CHECK(p.servers[2].backup);
}

TEST_CASE("loader: IPv6 and unix listeners, unix servers") {
    const root r = load_ok(R"(
[[listeners]]
name = "v6"
listen = ["[::]:0", "[2001:db8::1]:443"]
pool = "local"

[[listeners]]
name = "sock"
listen = "unix:/run/ringway/in.sock"
pool = "local"

[pools.local]
servers = [{ address = "unix:/run/app.sock" }, { address = "[::1]:9000" }]
)");
    REQUIRE(r.listeners.size() == 2);
    CHECK(r.listeners[0].listen[0].to_string() == "[::]:0");
    CHECK(r.listeners[0].listen[1].to_string() == "[2001:db8::1]:443");
    CHECK(r.listeners[0].listen[1].port() == 443);
    CHECK(r.listeners[1].listen[0].family() == AF_UNIX);
    CHECK(r.listeners[1].listen[0].text == "unix:/run/ringway/in.sock");
    const pool& p = r.pools.at("local");
    CHECK(p.servers[0].addr.family() == AF_UNIX);
    CHECK(p.servers[1].addr.to_string() == "[::1]:9000");
}

TEST_CASE("loader: unused pools are fine; all five balance algorithms are accepted") {
    const root r = load_ok(std::string(minimal) + R"(
[pools.d]
balance = "round_robin"
servers = [{ address = "10.0.0.5:80" }]
)");
    CHECK(r.pools.size() == 2);
    CHECK(r.pools.at("d").balance == balance_kind::round_robin);
    const std::pair<const char*, balance_kind> names[] = {
        {"round_robin", balance_kind::round_robin},
        {"least_conn", balance_kind::least_conn},
        {"p2c", balance_kind::p2c},
        {"random", balance_kind::random},
        {"maglev", balance_kind::maglev}};
    for (const auto& entry : names) {
        // Not a structured binding: clang before 16 cannot capture one (CAPTURE's lambda).
        const char* name = entry.first;
        const balance_kind kind = entry.second;
        CAPTURE(name);
        const root one = load_ok(std::string(minimal) + "[pools.x]\nbalance = \"" + name +
                                 "\"\nservers = [{ address = \"10.0.0.2:80\" }]\n");
        CHECK(one.pools.at("x").balance == kind);
    }
}

TEST_CASE("loader: workers auto, sizes in bytes, zero timeouts where they mean something") {
    const root r = load_ok(R"(
[runtime]
workers = "auto"
buffer_size = 2048
drain_timeout = "0s"

[[listeners]]
name = "a"
listen = "0.0.0.0:0"
pool = "p"
idle_timeout = "0s"

[[listeners]]
name = "b"
listen = "0.0.0.0:0"
pool = "p"

[[pools.p.servers]]
address = "10.0.0.1:1"
)");
    CHECK(r.runtime.workers == 0);
    CHECK(r.runtime.buffer_size == 2048);
    CHECK(r.runtime.drain_timeout == milliseconds(0));
    CHECK(r.listeners[0].idle_timeout == milliseconds(0));
    // Port 0 twice is not a duplicate: the kernel picks a port for each.
    CHECK(r.listeners.size() == 2);
    CHECK(r.pools.at("p").servers.size() == 1);
}

TEST_CASE("loader: load_file reads a file, and names it in messages") {
    const auto dir = std::filesystem::temp_directory_path();
    const auto path = (dir / ("ringway-loader-" + std::to_string(::getpid()) + ".toml")).string();
    {
        std::ofstream f(path);
        f << minimal;
    }
    auto good = load_file(path);
    CHECK(std::holds_alternative<root>(good));
    {
        std::ofstream f(path);
        f << minimal << "bogus = 1\n";
    }
    auto bad = load_file(path);
    REQUIRE(std::holds_alternative<load_error>(bad));
    CHECK(has(std::get<load_error>(bad).message, path + ":8:1: pools.web.bogus: unknown key"));
    std::remove(path.c_str());
}

TEST_CASE("loader: a missing file") {
    auto r = load_file("/nonexistent/ringway.toml");
    REQUIRE(std::holds_alternative<load_error>(r));
    CHECK(std::get<load_error>(r).message ==
          "/nonexistent/ringway.toml: cannot read: No such file or directory");
}

// -------------------------------------------------------------- syntax errors

TEST_CASE("loader: a TOML syntax error becomes one line with its position") {
    const std::string msg = load_bad("[runtime]\nworkers = \n");
    CHECK(has(msg, "t.toml:2:11: syntax error: "));
    CHECK(has(msg, "missing value"));
    CHECK(lines_of(msg) == 1);
}

TEST_CASE("loader: a NUL or invalid UTF-8 is refused at its position before TOML parsing") {
    // toml11 reads out of bounds on invalid UTF-8 in a literal string and
    // loses the position of a NUL (found by tests/fuzz/fuzz_config).
    CHECK(load_bad("[runtime]\nx = '\xff'\n") ==
          "t.toml:2:6: syntax error: invalid UTF-8 (byte 0xFF; a TOML file is UTF-8 text)");
    CHECK(has(load_bad("a = '''\xc3'''\n"), "t.toml:1:8: syntax error: invalid UTF-8 (byte 0xC3"));
    CHECK(has(load_bad("a = \"\xed\xa0\x80\"\n"), "t.toml:1:6: syntax error: invalid UTF-8"));  // surrogate
    CHECK(has(load_bad("a = \"\xc0\xaf\"\n"), "t.toml:1:6: syntax error: invalid UTF-8"));      // overlong
    CHECK(load_bad(std::string("a = \"x\0y\"\n", 11)) ==
          "t.toml:1:7: syntax error: a NUL byte (TOML allows none)");
    // Well-formed UTF-8 of every length still loads.
    CHECK(has(load_bad("# \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\n[runtime]\nworkers = \"atuo\"\n"),
              "t.toml:3:11: runtime.workers"));
}

TEST_CASE("loader: a table defined twice points at the second one") {
    const std::string msg = load_bad(std::string(minimal) + "[pools.web]\n");
    CHECK(has(msg, "t.toml:8:1: syntax error: table (\"pools.web\") already exists"));
    CHECK(has(msg, "line 6:1"));
    CHECK(lines_of(msg) == 1);
}

TEST_CASE("loader: an unterminated array reports where a separator was expected") {
    const std::string msg = load_bad("[[listeners]]\nlisten = [\"127.0.0.1:1\"\nname = \"x\"\n");
    CHECK(has(msg, "t.toml:3:"));
    CHECK(has(msg, "syntax error"));
    CHECK(has(msg, "array"));
}

TEST_CASE("loader: empty or junk input never throws") {
    CHECK(has(load_bad(""), "t.toml:1:1: listeners: missing required key"));
    CHECK(has(load_bad(std::string("\0\x01\xff", 3)), "t.toml"));
    CHECK(has(load_bad("[[[["), "t.toml:1:"));
}

// ---------------------------------------------------------------- unknown keys

TEST_CASE("loader: a misspelt listener key is located at the key, with a suggestion") {
    const std::string msg = load_bad(R"([[listeners]]
name = "web"
lisen = "127.0.0.1:8080"
pool = "web"
[pools.web]
servers = [{ address = "10.0.0.1:80" }]
)");
    CHECK(has(msg, "t.toml:3:1: listeners[0].lisen: unknown key (did you mean 'listen'?)"));
    CHECK(has(msg, "t.toml:1:1: listeners[0].listen: missing required key"));
}

TEST_CASE("loader: a misspelt key inside an inline server table") {
    const std::string msg = load_bad(R"([[listeners]]
name = "web"
listen = "127.0.0.1:8080"
pool = "web"
[pools.web]
servers = [
  { address = "10.0.0.1:80", wieght = 3 },
]
)");
    CHECK(
        has(msg, "t.toml:7:30: pools.web.servers[0].wieght: unknown key (did you mean 'weight'?)"));
}

TEST_CASE("loader: misspelt top-level tables and runtime keys") {
    const std::string msg = load_bad(std::string("[runtim]\nworkers = 2\n") + minimal +
                                     "[runtime]\nmax_conections = 5\nthreads = 4\n");
    CHECK(has(msg, "t.toml:1:2: runtim: unknown key (did you mean 'runtime'?)"));
    CHECK(has(msg, "t.toml:11:1: runtime.max_conections: unknown key (did you mean "
                   "'max_connections'?)"));
    // Nothing close: the valid keys are listed instead.
    CHECK(has(msg, "t.toml:12:1: runtime.threads: unknown key (expected one of: workers, "
                   "max_connections, drain_timeout, buffers, buffer_size, io_engine)"));
}

TEST_CASE("loader: a key written in the wrong table says where it belongs") {
    const std::string msg = load_bad(R"([[listeners]]
name = "web"
listen = "127.0.0.1:8080"
pool = "web"
retries = 3
[pools.web]
servers = [{ address = "10.0.0.1:80" }]
)");
    CHECK(has(msg, "t.toml:5:1: listeners[0].retries: unknown key (this key belongs in "
                   "[pools.NAME])"));
}

TEST_CASE("loader: keys of the design not implemented yet") {
    const std::string msg = load_bad(std::string(minimal) + R"([admin]
listen = "127.0.0.1:9901"
)");
    CHECK(has(msg, "t.toml:8:2: admin: not supported yet"));
}

TEST_CASE("loader: keys that need quoting are quoted in paths") {
    const std::string msg = load_bad(std::string(minimal) + "[pools.\"my pool\"]\nservers = []\n");
    CHECK(has(msg, "pools.\"my pool\": invalid pool name (found \"my pool\""));
    CHECK(has(msg, "pools.\"my pool\".servers: a pool needs at least one server"));
}

// ------------------------------------------------------------ types and values

TEST_CASE("loader: wrong types say what was found and what was expected") {
    const std::string msg = load_bad(R"([[listeners]]
name = 5
listen = "127.0.0.1:8080"
pool = "web"
backlog = "big"
[pools.web]
retries = 1.5
servers = [{ address = "10.0.0.1:80", backup = "yes" }]
)");
    CHECK(has(msg, "t.toml:2:8: listeners[0].name: wrong type (found integer 5, expected string)"));
    CHECK(has(msg, "t.toml:5:11: listeners[0].backlog: wrong type (found string \"big\", expected "
                   "integer 1..65535)"));
    CHECK(has(msg, "t.toml:7:11: pools.web.retries: wrong type (found float 1.5, expected integer "
                   "0..16)"));
    CHECK(has(msg, "pools.web.servers[0].backup: wrong type (found string \"yes\", expected "
                   "boolean"));
}

TEST_CASE("loader: a bare integer duration gets a hint with units") {
    const std::string msg = load_bad(std::string(minimal) + "connect_timeout = 5\n");
    CHECK(has(msg, "t.toml:8:19: pools.web.connect_timeout: a duration needs a unit"));
    CHECK(has(msg, "found integer 5"));
    CHECK(has(msg, "write \"5s\""));
}

TEST_CASE("loader: malformed durations explain themselves") {
    const std::string msg = load_bad(R"([runtime]
drain_timeout = "30 seconds"
[[listeners]]
name = "web"
listen = "127.0.0.1:8080"
pool = "web"
idle_timeout = "500us"
[pools.web]
servers = [{ address = "10.0.0.1:80" }]
)");
    CHECK(has(msg, "t.toml:2:17: runtime.drain_timeout: invalid duration: spaces are not allowed "
                   "(found \"30 seconds\", expected a duration such as \"250ms\""));
    CHECK(has(msg, "t.toml:7:16: listeners[0].idle_timeout: invalid duration: unit 'us' is "
                   "finer than the 1ms resolution"));
}

TEST_CASE("loader: duration ranges") {
    const std::string zero = load_bad(std::string(minimal) + "connect_timeout = \"0s\"\n");
    CHECK(has(zero, "pools.web.connect_timeout: must be greater than zero (found \"0s\", "
                    "expected 1ms..10m)"));
    const std::string long_drain =
        load_bad(std::string("[runtime]\ndrain_timeout = \"25h\"\n") + minimal);
    CHECK(has(long_drain, "t.toml:2:17: runtime.drain_timeout: too long (found \"25h\", "
                          "expected 0s..24h)"));
    const std::string long_idle = load_bad(R"([[listeners]]
name = "web"
listen = "127.0.0.1:8080"
pool = "web"
idle_timeout = "169h"
[pools.web]
servers = [{ address = "10.0.0.1:80" }]
)");
    CHECK(
        has(long_idle, "listeners[0].idle_timeout: too long (found \"169h\", expected 0s..168h)"));
}

TEST_CASE("loader: numbers out of range") {
    const std::string msg = load_bad(R"([runtime]
workers = 0
max_connections = 10_000_001
[[listeners]]
name = "web"
listen = "127.0.0.1:8080"
pool = "web"
backlog = 65536
[pools.web]
retries = 17
servers = [
  { address = "10.0.0.1:80", weight = 0 },
  { address = "10.0.0.2:80", weight = 257 },
]
)");
    CHECK(has(msg, "t.toml:2:11: runtime.workers: out of range (found 0, expected \"auto\" or "
                   "integer 1..1024)"));
    CHECK(has(msg, "t.toml:3:19: runtime.max_connections: out of range (found 10000001, "
                   "expected 1..10000000)"));
    CHECK(has(msg, "t.toml:8:11: listeners[0].backlog: out of range (found 65536, expected "
                   "1..65535)"));
    CHECK(has(msg, "t.toml:10:11: pools.web.retries: out of range (found 17, expected 0..16)"));
    CHECK(has(msg, "t.toml:12:39: pools.web.servers[0].weight: out of range (found 0, expected "
                   "1..256)"));
    CHECK(has(msg, "t.toml:13:39: pools.web.servers[1].weight: out of range (found 257"));
    CHECK(lines_of(msg) == 6);
}

TEST_CASE("loader: workers must be auto or a count") {
    const std::string msg = load_bad(std::string("[runtime]\nworkers = \"atuo\"\n") + minimal);
    CHECK(has(msg, "t.toml:2:11: runtime.workers: invalid worker count (found \"atuo\", expected "
                   "\"auto\" or integer 1..1024) (did you mean 'auto'?)"));
    const std::string boolean = load_bad(std::string("[runtime]\nworkers = true\n") + minimal);
    CHECK(has(boolean, "wrong type (found boolean true, expected \"auto\" or integer 1..1024)"));
}

TEST_CASE("loader: buffer ring count and size") {
    const std::string msg = load_bad(std::string(R"([runtime]
buffers = 1000
buffer_size = "4KB"
)") + minimal);
    CHECK(has(msg, "t.toml:2:11: runtime.buffers: not a power of two (found 1000, expected a "
                   "power of two in 8..32768"));
    CHECK(has(msg, "t.toml:3:15: runtime.buffer_size: invalid size: ambiguous unit 'KB'"));
    CHECK(has(msg, "\"4KiB\""));
    const std::string big = load_bad(std::string("[runtime]\nbuffer_size = \"2MiB\"\n") + minimal);
    CHECK(has(big, "runtime.buffer_size: out of range (found \"2MiB\", expected 1KiB..1MiB)"));
    const std::string small =
        load_bad(std::string("[runtime]\nbuffer_size = 512\nbuffers = 4\n") + minimal);
    CHECK(has(small, "runtime.buffer_size: out of range (found 512, expected 1KiB..1MiB)"));
    CHECK(has(small, "runtime.buffers: out of range (found 4, expected 8..32768)"));
}

TEST_CASE("loader: io_engine is auto, io_uring or epoll") {
    // `value` as written in TOML, on line 2.
    const auto with = [](std::string_view value) {
        return std::string("[runtime]\nio_engine = ") + std::string(value) + "\n" + minimal;
    };
    CHECK(load_ok(with(R"("auto")")).runtime.io_engine == io_engine_kind::automatic);
    CHECK(load_ok(with(R"("io_uring")")).runtime.io_engine == io_engine_kind::io_uring);
    CHECK(load_ok(with(R"("epoll")")).runtime.io_engine == io_engine_kind::epoll);

    constexpr std::string_view allowed = R"(expected one of "auto", "io_uring", "epoll"))";
    CHECK(load_bad(with(R"("io-uring")")) ==
          std::string(R"(t.toml:2:13: runtime.io_engine: unknown I/O engine (found "io-uring", )") +
              std::string(allowed) + " (did you mean 'io_uring'?)");
    CHECK(has(load_bad(with(R"("EPOLL")")),
              R"(t.toml:2:13: runtime.io_engine: unknown I/O engine (found "EPOLL", )" +
                  std::string(allowed) + " (did you mean 'epoll'?)"));
    // Nothing close: the allowed values alone.
    CHECK(load_bad(with(R"("kqueue")")) ==
          R"(t.toml:2:13: runtime.io_engine: unknown I/O engine (found "kqueue", )" +
              std::string(allowed));
    CHECK(load_bad(with("true")) ==
          "t.toml:2:13: runtime.io_engine: wrong type (found boolean true, " +
              std::string(allowed));
    CHECK(has(load_bad(std::string("[runtime]\nio_egnine = \"epoll\"\n") + minimal),
              "t.toml:2:1: runtime.io_egnine: unknown key (did you mean 'io_engine'?)"));
}

// ---------------------------------------------------------------- listeners

TEST_CASE("loader: listeners are required") {
    const std::string none = load_bad("[pools.web]\nservers = [{ address = \"10.0.0.1:80\" }]\n");
    CHECK(has(none, "t.toml:1:1: listeners: missing required key (found none, expected at least "
                    "one [[listeners]] table)"));
    const std::string empty = load_bad("listeners = []\n");
    CHECK(has(empty, "t.toml:1:13: listeners: no listener (found empty array"));
    const std::string table = load_bad("[listeners]\nname = \"x\"\n");
    CHECK(has(table, "t.toml:1:1: listeners: wrong type (found table, expected array of tables: "
                     "write [[listeners]], not [listeners])"));
}

TEST_CASE("loader: missing required keys are reported at their table") {
    const std::string msg = load_bad(R"(
[[listeners]]
protocol = "tcp"

[pools.web]
retries = 1

[pools.api]
servers = [{ weight = 2 }]
)");
    CHECK(has(msg, "t.toml:2:1: listeners[0].name: missing required key"));
    CHECK(has(msg, "t.toml:2:1: listeners[0].listen: missing required key"));
    CHECK(has(msg, "t.toml:2:1: listeners[0].pool: missing required key"));
    CHECK(has(msg, "t.toml:5:1: pools.web.servers: missing required key"));
    CHECK(has(msg, "t.toml:9:12: pools.api.servers[0].address: missing required key"));
}

TEST_CASE("loader: listener names must be unique and plain") {
    const std::string msg = load_bad(R"([[listeners]]
name = "web"
listen = "127.0.0.1:1"
pool = "web"

[[listeners]]
name = "web"
listen = "127.0.0.1:2"
pool = "web"

[[listeners]]
name = "my web"
listen = "127.0.0.1:3"
pool = "web"

[pools.web]
servers = [{ address = "10.0.0.1:80" }]
)");
    CHECK(has(msg, "t.toml:7:8: listeners[1].name: duplicate listener name (found \"web\", "
                   "already used by listeners[0] on line 1)"));
    CHECK(has(msg, "t.toml:12:8: listeners[2].name: invalid listener name (found \"my web\", "
                   "expected letters, digits, '_', '.' or '-')"));
}

TEST_CASE("loader: an address may be listened on once across all listeners") {
    const std::string msg = load_bad(R"([[listeners]]
name = "a"
listen = ["127.0.0.1:5000", "[::1]:5000"]
pool = "web"

[[listeners]]
name = "b"
listen = ["[0::1]:5000", "127.0.0.1:0", "127.0.0.1:0"]
pool = "web"

[pools.web]
servers = [{ address = "10.0.0.1:80" }]
)");
    CHECK(has(msg, "t.toml:8:11: listeners[1].listen[0]: duplicate address (found \"[0::1]:5000\", "
                   "already used by listeners[0].listen[1] on line 3)"));
    CHECK(lines_of(msg) == 1); // port 0 is exempt
}

TEST_CASE("loader: bad listen addresses carry their index") {
    const std::string msg = load_bad(R"([[listeners]]
name = "web"
listen = "127.0.0.1:8080"
pool = "web"

[[listeners]]
name = "api"
listen = ["localhost:8081", "::1:8081", "10.0.0.1", 8081]
pool = "web"

[pools.web]
servers = [{ address = "10.0.0.1:80" }]
)");
    CHECK(has(msg, "t.toml:8:11: listeners[1].listen[0]: invalid address: hostnames are not "
                   "resolved yet; use an IP address (found \"localhost:8081\", expected IP:PORT, "
                   "[IPv6]:PORT or unix:/path)"));
    CHECK(has(msg, "t.toml:8:29: listeners[1].listen[1]: invalid address: IPv6 addresses must be "
                   "in brackets (write \"[::1]:8081\")"));
    CHECK(has(msg, "t.toml:8:41: listeners[1].listen[2]: invalid address: missing port"));
    CHECK(has(msg, "t.toml:8:53: listeners[1].listen[3]: wrong type (found integer 8081, "
                   "expected an address string"));
}

TEST_CASE("loader: listen must be a string or a non-empty array") {
    const std::string empty = load_bad(R"([[listeners]]
name = "web"
listen = []
pool = "web"
[pools.web]
servers = [{ address = "10.0.0.1:80" }]
)");
    CHECK(has(empty, "t.toml:3:10: listeners[0].listen: no address (found empty array, expected "
                     "at least one address"));
    const std::string number = load_bad(R"([[listeners]]
name = "web"
listen = 8080
pool = "web"
[pools.web]
servers = [{ address = "10.0.0.1:80" }]
)");
    CHECK(has(number, "t.toml:3:10: listeners[0].listen: wrong type (found integer 8080, "
                      "expected an address string or an array of them)"));
}

TEST_CASE("loader: protocol is tcp or http, others unknown") {
    const root r = load_ok(R"([[listeners]]
name = "web"
listen = "127.0.0.1:8080"
protocol = "http"
pool = "web"
[pools.web]
servers = [{ address = "10.0.0.1:80" }]
)");
    CHECK(r.listeners.at(0).protocol == protocol_kind::http);
    const std::string upper = load_bad(R"([[listeners]]
name = "web"
listen = "127.0.0.1:8080"
protocol = "TCP"
pool = "web"
[pools.web]
servers = [{ address = "10.0.0.1:80" }]
)");
    CHECK(has(upper, "t.toml:4:12: listeners[0].protocol: unknown protocol (found \"TCP\", "
                     "expected one of \"tcp\", \"http\") (did you mean 'tcp'?)"));
    CHECK(lines_of(upper) == 1);
    const std::string udp = load_bad(R"([[listeners]]
name = "web"
listen = "127.0.0.1:8080"
protocol = "quic"
[pools.web]
servers = [{ address = "10.0.0.1:80" }]
)");
    // Whether the listener needs a pool depends on the protocol: not reported.
    CHECK(udp == "t.toml:4:12: listeners[0].protocol: unknown protocol (found \"quic\", "
                 "expected one of \"tcp\", \"http\")");
}

TEST_CASE("loader: a listener naming an unknown pool gets the nearest name") {
    const std::string msg = load_bad(R"([[listeners]]
name = "web"
listen = "127.0.0.1:8080"
pool = "wbe"
[pools.web]
servers = [{ address = "10.0.0.1:80" }]
[pools.api]
servers = [{ address = "10.0.0.2:80" }]
)");
    CHECK(has(msg, "t.toml:4:8: listeners[0].pool: unknown pool (found \"wbe\", expected one of "
                   "'api', 'web') (did you mean 'web'?)"));
    const std::string none = load_bad(R"([[listeners]]
name = "web"
listen = "127.0.0.1:8080"
pool = "web"
)");
    CHECK(has(none, "t.toml:4:8: listeners[0].pool: unknown pool (found \"web\", expected the "
                    "name of a [pools.NAME] table, and there is none)"));
}

// ------------------------------------------------------------------- pools

TEST_CASE("loader: a pool needs servers, and one that is not a backup") {
    const std::string msg = load_bad(std::string(minimal) + R"(
[pools.empty]
servers = []

[pools.spare]
servers = [
  { address = "10.0.0.8:80", backup = true },
  { address = "10.0.0.9:80", backup = true },
]
)");
    CHECK(has(msg, "t.toml:10:11: pools.empty.servers: a pool needs at least one server (found "
                   "empty array"));
    CHECK(has(msg, "t.toml:13:11: pools.spare.servers: every server is a backup (found only "
                   "backup servers, expected at least one server without backup = true)"));
}

TEST_CASE("loader: bad server entries") {
    const std::string msg = load_bad(std::string(minimal) + R"(
[pools.api]
servers = [
  "10.0.0.1:80",
  { address = "10.0.0.2:0" },
  { address = "api.internal:80" },
  { address = "10.0.0.3:80" },
  { address = "10.0.0.3:80", weight = 5 },
]
)");
    CHECK(has(msg, "t.toml:11:3: pools.api.servers[0]: wrong type (found string \"10.0.0.1:80\", "
                   "expected a table such as { address = \"10.0.0.1:80\" })"));
    CHECK(has(msg, "t.toml:12:15: pools.api.servers[1].address: port 0 is not valid for a server "
                   "(found \"10.0.0.2:0\", expected a port in 1..65535)"));
    CHECK(has(msg, "t.toml:13:15: pools.api.servers[2].address: invalid address: hostnames are "
                   "not resolved yet"));
    CHECK(has(msg, "t.toml:15:15: pools.api.servers[4].address: duplicate server"));
    CHECK(has(msg, "already used by pools.api.servers[3] on line 14"));
}

TEST_CASE("loader: a misspelt balance algorithm") {
    const std::string msg = load_bad(std::string(minimal) + "balance = \"roundrobin\"\n");
    CHECK(has(msg, "t.toml:8:11: pools.web.balance: unknown balance algorithm (found "
                   "\"roundrobin\", expected one of round_robin, least_conn, p2c, random, maglev) "
                   "(did you mean 'round_robin'?)"));
}

TEST_CASE("loader: pools and servers of the wrong shape") {
    const std::string arr = load_bad(R"([[listeners]]
name = "web"
listen = "127.0.0.1:8080"
pool = "web"
[[pools]]
name = "web"
)");
    CHECK(has(arr, "t.toml:5:1: pools: wrong type (found array, expected a table of pools: write "
                   "[pools.NAME])"));
    CHECK(has(arr, "listeners[0].pool: unknown pool"));
    const std::string scalar = load_bad(std::string(minimal) + "[pools]\napi = 5\n");
    CHECK(has(scalar, "t.toml:9:7: pools.api: wrong type (found integer 5, expected table "
                      "([pools.api]))"));
    const std::string servers = load_bad(std::string(minimal) + "[pools.x]\nservers = \"a\"\n");
    CHECK(has(servers, "t.toml:9:11: pools.x.servers: wrong type (found string \"a\", expected an "
                       "array of servers"));
}

// ------------------------------------------------------------- all at once

TEST_CASE("loader: every problem is reported, one per line, in file order") {
    const std::string msg = load_bad(R"([runtime]
workers = "many"
drain_timeout = 30

[[listeners]]
name = "db"
lisen = "127.0.0.1:5000"
pool = "dbb"

[pools.db]
balance = "fastest"
servers = [{ address = "10.0.0.1:80", weight = 999 }]
)");
    CHECK(lines_of(msg) == 7);
    const auto at = [&](std::string_view part) { return msg.find(part); };
    CHECK(at("t.toml:2:11: runtime.workers") < at("t.toml:3:17: runtime.drain_timeout"));
    CHECK(at("t.toml:3:17: runtime.drain_timeout") < at("t.toml:5:1: listeners[0].listen"));
    CHECK(at("t.toml:5:1: listeners[0].listen") < at("t.toml:7:1: listeners[0].lisen"));
    CHECK(at("t.toml:7:1: listeners[0].lisen") < at("t.toml:8:8: listeners[0].pool"));
    CHECK(has(msg, "(did you mean 'db'?)"));
    CHECK(at("t.toml:8:8: listeners[0].pool") < at("t.toml:11:11: pools.db.balance"));
    CHECK(at("t.toml:11:11: pools.db.balance") < at("t.toml:12:48: pools.db.servers[0].weight"));
    CHECK(at("t.toml:12:48: pools.db.servers[0].weight") != std::string::npos);
    // Every line starts with the file name.
    std::size_t start = 0;
    while (start < msg.size()) {
        CHECK(msg.compare(start, 7, "t.toml:") == 0);
        const auto nl = msg.find('\n', start);
        start = nl == std::string::npos ? msg.size() : nl + 1;
    }
}

TEST_CASE("loader: absurd nesting is refused before it can overflow the stack") {
    const std::string deep = "x = " + std::string(5000, '[') + std::string(5000, ']') + "\n";
    CHECK(has(load_bad(deep), "t.toml:1:105: syntax error: arrays, inline tables or dotted keys "
                              "nested more than 100 deep"));
    std::string dotted = "a";
    for (int i = 0; i < 5000; ++i) {
        dotted += ".a";
    }
    CHECK(has(load_bad(dotted + " = 1\n"), "t.toml:1:202: syntax error"));
    CHECK(has(load_bad("[" + dotted + "]\n"), "t.toml:1:203: syntax error"));
    // Many floats on a line are not a dotted key.
    std::string floats = "[runtime]\nx = [";
    for (int i = 0; i < 300; ++i) {
        floats += "1.5, ";
    }
    CHECK(has(load_bad(floats + "]\n"), "t.toml:2:1: runtime.x: unknown key"));
    // Brackets inside strings and comments do not count.
    const std::string quoted = std::string(minimal) + "# " + std::string(200, '[') + "\n" +
                               "[pools.x]\nservers = [{ address = \"unix:/" +
                               std::string(100, '{') + "\" }]\n";
    CHECK(load_ok(quoted).pools.at("x").servers.size() == 1);
}
