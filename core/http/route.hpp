// Route selection for HTTP listeners: the listener's [[listeners.routes]]
// compiled once (hosts lower-cased and split into exact/suffix, path regexes
// compiled with RE2), then matched per request against exactly the head that
// is forwarded. First match wins. Immutable after construction; shared by
// nothing (each worker builds its own from the config snapshot).
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "proto/http1/message.hpp"

namespace ringway::core {

// Whether `path` has a "." or ".." segment, written as such or with %2e
// (RFC 3986 3.3, 5.2.4). Routes compare paths as sent; such a path would be
// another path to a server that resolves it.
bool has_dot_segment(std::string_view path) noexcept;

class route_table {
public:
    // `l` must outlive the table (it is part of the worker's config snapshot).
    explicit route_table(const config::listener& l);
    ~route_table();
    route_table(route_table&&) noexcept;
    route_table& operator=(route_table&&) noexcept;

    // Index of the first matching route in l.routes; size() when none
    // matched but the listener has a default `pool`; -1: none (404).
    // Allocates nothing itself; RE2 may grow its DFA cache (bounded by its
    // memory budget) the first times a path_regex meets new input shapes.
    int find(const proto::http1::request_head& h) const noexcept;

    // The route's name for logs ("default" for the listener's pool).
    std::string_view name(int index) const noexcept;
    // The pool name a find() result sends requests to.
    const std::string& pool(int index) const noexcept;
    // Header edits of a find() result (empty edits for the default).
    const config::route* route(int index) const noexcept; // nullptr for the default
    std::size_t size() const noexcept;

private:
    struct compiled; // one route prepared for matching (core/http_route.cpp)
    const config::listener* listener_;
    std::vector<std::unique_ptr<compiled>> routes_;
};

// Case-insensitive host match of one pattern ("a.example.com" or
// "*.example.com", lower-case) against a Host value (any case, port ignored,
// IPv6 literals in brackets compared as text, one trailing dot ignored).
// Exposed for tests.
bool host_matches(std::string_view pattern, std::string_view host) noexcept;

} // namespace ringway::core
