// Helpers shared by the loader's tests: a minimal file that loads, and
// loading text that must load or must fail (with its message returned).
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "config/loader.hpp"

namespace ringway::config::test {

// Seven lines that load: listener "web" on 127.0.0.1:8080, pool "web" with one
// server. Tests append to it (line 8 on) or change one thing.
inline constexpr const char* minimal = R"([[listeners]]
name = "web"
listen = "127.0.0.1:8080"
pool = "web"

[pools.web]
servers = [{ address = "10.0.0.1:80" }]
)";

// Loads `text` as "t.toml"; a load error fails the test case.
inline root load_ok(const std::string& text) {
    auto r = load_string(text, "t.toml");
    if (const auto* e = std::get_if<load_error>(&r)) {
        FAIL_CHECK("unexpected error:\n", e->message);
        return {};
    }
    return std::get<root>(std::move(r));
}

// Loads `text` as "t.toml", which must fail; returns the message.
inline std::string load_bad(const std::string& text) {
    auto r = load_string(text, "t.toml");
    const auto* e = std::get_if<load_error>(&r);
    REQUIRE_MESSAGE(e != nullptr, "loaded without error:\n", text);
    return e->message;
}

// True when `text` contains `part`.
inline bool has(const std::string& text, std::string_view part) {
    return text.find(part) != std::string::npos;
}

// Lines of a message: one per problem.
inline std::size_t lines_of(const std::string& text) {
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
}

} // namespace ringway::config::test
