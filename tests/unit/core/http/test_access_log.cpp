#include <doctest/doctest.h>

#include <cerrno>
#include <fcntl.h>
#include <string>
#include <string_view>
#include <unistd.h>

#include "core/http/access_log.hpp"

using ringway::core::access_log;
using ringway::core::access_record;
using ringway::core::format_access_record;

namespace {

access_record full_record() {
    access_record r;
    r.unix_ms = 1795000000123;
    r.client = "192.0.2.1:50123";
    r.listener = "web";
    r.route = "api";
    r.pool = "backends";
    r.server = "10.0.0.2:8080";
    r.method = "GET";
    r.path = "/api/v1/items?page=2";
    r.status = 200;
    r.bytes_in = 812;
    r.bytes_out = 16384;
    r.duration_us = 12345;
    r.connect_us = 250;
    r.response_us = 9001;
    r.retries = 1;
    return r;
}

std::string format(const access_record& r) {
    std::string out;
    format_access_record(r, out);
    return out;
}

std::string time_of(std::int64_t unix_ms) {
    access_record r;
    r.unix_ms = unix_ms;
    std::string line = format(r);
    std::string_view prefix = "{\"time\":\"";
    REQUIRE(line.rfind(prefix, 0) == 0);
    return line.substr(prefix.size(), line.find('"', prefix.size()) - prefix.size());
}

std::string path_json(std::string_view path) {
    access_record r;
    r.path = path;
    std::string line = format(r);
    std::size_t at = line.find("\"path\":");
    REQUIRE(at != std::string::npos);
    std::size_t end = line.find(",\"status\":", at);
    REQUIRE(end != std::string::npos);
    return line.substr(at + 7, end - at - 7);
}

struct pipe_fds {
    int rd = -1;
    int wr = -1;
    pipe_fds() {
        int fds[2];
        REQUIRE(pipe(fds) == 0);
        rd = fds[0];
        wr = fds[1];
    }
    ~pipe_fds() {
        close(rd);
        close(wr);
    }
    std::string drain() const {
        int fl = fcntl(rd, F_GETFL);
        fcntl(rd, F_SETFL, fl | O_NONBLOCK);
        std::string got;
        char buf[4096];
        ssize_t n;
        while ((n = read(rd, buf, sizeof buf)) > 0) got.append(buf, std::size_t(n));
        fcntl(rd, F_SETFL, fl);
        return got;
    }
};

// What the worker does at the end of a batch, with write(2) for io_uring.
int flush_once(access_log& log, std::size_t limit = SIZE_MAX) {
    std::string_view bytes = log.begin_flush();
    if (bytes.empty()) return 0;
    ssize_t n = write(log.fd(), bytes.data(), bytes.size() < limit ? bytes.size() : limit);
    int res = n < 0 ? -errno : int(n);
    log.end_flush(res);
    return res;
}

} // namespace

TEST_CASE("access_log: a full record is one JSON line with the fields in order") {
    CHECK(format(full_record()) ==
          "{\"time\":\"2026-11-18T11:06:40.123Z\",\"client\":\"192.0.2.1:50123\","
          "\"listener\":\"web\",\"route\":\"api\",\"pool\":\"backends\","
          "\"server\":\"10.0.0.2:8080\",\"method\":\"GET\",\"path\":\"/api/v1/items?page=2\","
          "\"status\":200,\"bytes_in\":812,\"bytes_out\":16384,\"duration_ms\":12.345,"
          "\"connect_ms\":0.250,\"response_ms\":9.001,\"retries\":1,\"termination\":\"\"}\n");

    // No response, no server: zeros, empty strings, -1 for what did not happen.
    access_record r;
    r.unix_ms = 0;
    r.client = "[2001:db8::1]:443";
    r.method = "POST";
    r.path = "/";
    r.duration_us = 7;
    r.termination = "client_closed";
    CHECK(format(r) == "{\"time\":\"1970-01-01T00:00:00.000Z\",\"client\":\"[2001:db8::1]:443\","
                       "\"listener\":\"\",\"route\":\"\",\"pool\":\"\",\"server\":\"\","
                       "\"method\":\"POST\",\"path\":\"/\",\"status\":0,\"bytes_in\":0,"
                       "\"bytes_out\":0,\"duration_ms\":0.007,\"connect_ms\":-1,"
                       "\"response_ms\":-1,\"retries\":0,\"termination\":\"client_closed\"}\n");
}

TEST_CASE("access_log: format appends and never allocates a line of its own") {
    std::string out = "earlier\n";
    format_access_record(full_record(), out);
    CHECK(out.rfind("earlier\n{\"time\":", 0) == 0);
    CHECK(out.back() == '\n');
}

TEST_CASE("access_log: durations are milliseconds with three decimals") {
    access_record r;
    r.duration_us = 1234567890;
    r.connect_us = 0;
    r.response_us = 1000;
    std::string line = format(r);
    CHECK(line.find("\"duration_ms\":1234567.890,\"connect_ms\":0.000,\"response_ms\":1.000,") !=
          std::string::npos);
}

TEST_CASE("access_log: times are RFC 3339 UTC with milliseconds") {
    CHECK(time_of(0) == "1970-01-01T00:00:00.000Z");
    CHECK(time_of(1795000000123) == "2026-11-18T11:06:40.123Z");
    CHECK(time_of(951782400999) == "2000-02-29T00:00:00.999Z");
    CHECK(time_of(-1) == "1969-12-31T23:59:59.999Z");
}

TEST_CASE("access_log: every string is escaped so no line can be split or forged") {
    CHECK(path_json("a\"b") == "\"a\\\"b\"");
    CHECK(path_json("a\\b") == "\"a\\\\b\"");
    CHECK(path_json("a\rb\nc") == "\"a\\u000db\\u000ac\"");
    CHECK(path_json(std::string_view("a\0b", 3)) == "\"a\\u0000b\"");
    CHECK(path_json("\xff\x7f\x1f") == "\"\\u00ff\\u007f\\u001f\"");
    CHECK(path_json("caf\xc3\xa9") == "\"caf\\u00c3\\u00a9\"");

    access_record r = full_record();
    r.path = "/x\"}\n{\"status\":200";
    r.method = "G\"ET";
    r.termination = "\\";
    std::string line = format(r);
    CHECK(line.find('\n') == line.size() - 1);
    CHECK(line.find("\"method\":\"G\\\"ET\",\"path\":\"/x\\\"}\\u000a{\\\"status\\\":200\"") !=
          std::string::npos);
    CHECK(line.find("\"termination\":\"\\\\\"}") != std::string::npos);
    for (char c : line.substr(0, line.size() - 1)) {
        CHECK(static_cast<unsigned char>(c) >= 0x20);
        CHECK(static_cast<unsigned char>(c) < 0x7f);
    }
}

TEST_CASE("access_log: records flush through a pipe, one write at a time") {
    pipe_fds p;
    access_log log(p.wr);
    CHECK(log.begin_flush().empty());
    CHECK_FALSE(log.in_flight());

    access_record a = full_record();
    access_record b = full_record();
    b.path = "/second";
    log.append(a);
    log.append(b);
    std::string expected = format(a) + format(b);

    std::string_view bytes = log.begin_flush();
    CHECK(bytes == expected);
    CHECK(log.in_flight());
    // While the write is in flight: no second write, appends go to the other buffer.
    CHECK(log.begin_flush().empty());
    access_record c = full_record();
    c.path = "/third";
    log.append(c);
    CHECK(bytes == expected); // the in-flight bytes did not move

    ssize_t n = write(p.wr, bytes.data(), bytes.size());
    REQUIRE(n == ssize_t(bytes.size()));
    log.end_flush(int(n));
    CHECK_FALSE(log.in_flight());
    CHECK(p.drain() == expected);

    CHECK(flush_once(log) == int(format(c).size()));
    CHECK(p.drain() == format(c));
    CHECK(log.begin_flush().empty());
    CHECK(log.dropped() == 0);
    CHECK(log.write_errors() == 0);
}

TEST_CASE("access_log: a short write sends the rest first") {
    pipe_fds p;
    access_log log(p.wr);
    access_record a = full_record();
    log.append(a);
    std::string first = format(a);

    CHECK(flush_once(log, 10) == 10);
    access_record b = full_record();
    b.path = "/later";
    log.append(b);

    std::string_view rest = log.begin_flush();
    CHECK(rest == std::string_view(first).substr(10));
    ssize_t n = write(p.wr, rest.data(), 5);
    log.end_flush(int(n));
    CHECK(flush_once(log) == int(first.size() - 15));
    CHECK(flush_once(log) == int(format(b).size()));
    CHECK(p.drain() == first + format(b));
    CHECK(log.write_errors() == 0);
}

TEST_CASE("access_log: EAGAIN retries the same bytes; a hard error drops them, counted") {
    pipe_fds p;
    access_log log(p.wr);
    access_record a = full_record();
    log.append(a);
    log.append(a);

    std::string_view bytes = log.begin_flush();
    std::string copy(bytes);
    log.end_flush(-EAGAIN);
    CHECK(log.write_errors() == 1);
    CHECK(log.begin_flush() == copy);
    log.end_flush(-EINTR);
    CHECK(log.write_errors() == 2);

    // Hard error after part of the buffer went out: both records lost.
    bytes = log.begin_flush();
    REQUIRE(write(p.wr, bytes.data(), 3) == 3);
    log.end_flush(3);
    CHECK_FALSE(log.begin_flush().empty());
    log.end_flush(-EBADF);
    CHECK(log.write_errors() == 3);
    CHECK(log.dropped() == 2);
    CHECK(log.begin_flush().empty());
    CHECK(p.drain() == copy.substr(0, 3));

    // The log keeps working afterwards.
    log.append(a);
    CHECK(flush_once(log) == int(copy.size() / 2));
    CHECK(p.drain() == format(a));

    // A completion without a flush in flight is ignored.
    log.end_flush(100);
    CHECK(log.begin_flush().empty());
}

TEST_CASE("access_log: records past the cap are dropped and counted") {
    pipe_fds p;
    const std::size_t line = format(full_record()).size();
    access_log log(p.wr, 2 * line + line / 2);
    for (int i = 0; i < 5; ++i) log.append(full_record());
    CHECK(log.dropped() == 3);

    std::string_view bytes = log.begin_flush();
    CHECK(bytes.size() == 2 * line);
    // In flight: the other buffer has its own cap.
    for (int i = 0; i < 3; ++i) log.append(full_record());
    CHECK(log.dropped() == 4);
    REQUIRE(write(p.wr, bytes.data(), bytes.size()) == ssize_t(bytes.size()));
    log.end_flush(int(bytes.size()));
    CHECK(flush_once(log) == int(2 * line));
    CHECK(p.drain().size() == 4 * line);

    // A single record bigger than the cap never gets in.
    access_log tiny(p.wr, 16);
    tiny.append(full_record());
    CHECK(tiny.dropped() == 1);
    CHECK(tiny.begin_flush().empty());
}
