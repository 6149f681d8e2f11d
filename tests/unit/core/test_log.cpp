#include <doctest/doctest.h>

#include <string>
#include <unistd.h>

#include "core/log.hpp"

using namespace ringway;

namespace {

std::string capture(void (*emit)()) {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    log::set_fd(fds[1]);
    emit();
    log::set_fd(STDERR_FILENO);
    close(fds[1]);
    std::string out;
    char buf[512];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0) out.append(buf, std::size_t(n));
    close(fds[0]);
    return out;
}

} // namespace

TEST_CASE("log: one key=value line per event") {
    std::string out = capture([] { log::info("listening").kv("listener", "web").kv("port", 80); });
    CHECK(out.find("level=info event=listening listener=web port=80\n") != std::string::npos);
    CHECK(out.rfind("ts=", 0) == 0);
}

TEST_CASE("log: values cannot forge a second line or a key") {
    std::string out = capture([] { log::warn("x").kv("error", "bad\nts=0 level=error event=fake a=b"); });
    CHECK(out.find('\n') == out.size() - 1);
    CHECK(out.find("error=\"bad\\nts=0 level=error event=fake a=b\"") != std::string::npos);
}

TEST_CASE("log: levels below the minimum are dropped") {
    std::string out = capture([] {
        log::set_min_level(log::level::warn);
        log::info("hidden");
        log::warn("shown");
        log::set_min_level(log::level::info);
    });
    CHECK(out.find("hidden") == std::string::npos);
    CHECK(out.find("shown") != std::string::npos);
}
