// Route selection for HTTP listeners; see core/http_route.hpp. Everything that
// can be prepared is prepared in the constructor (host patterns split and
// lower-cased, regexes compiled), so that find() only compares bytes.
#include "core/http/route.hpp"

#include <algorithm>
#include <string>
#include <utility>

#include <re2/re2.h>

#include "proto/ascii.hpp"

namespace ringway::core {
namespace {

// The host part of a Host value: the port cut off ("a.example.com:8080" →
// "a.example.com", "[::1]:80" → "[::1]") and one trailing dot, which names
// the same host, too ("example.com." → "example.com").
std::string_view host_only(std::string_view host) noexcept {
    if (!host.empty() && host.front() == '[') {
        const auto close = host.find(']');
        return close == std::string_view::npos ? host : host.substr(0, close + 1);
    }
    host = host.substr(0, host.find(':'));
    if (!host.empty() && host.back() == '.') {
        host.remove_suffix(1);
    }
    return host;
}

// `host` (port already cut) ends with `suffix` (".example.com", lower-case)
// and has at least one byte before it.
bool ends_with_suffix(std::string_view host, std::string_view suffix) noexcept {
    return host.size() > suffix.size() &&
           proto::ascii_iequals(host.substr(host.size() - suffix.size()), suffix);
}

std::string lowered(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), proto::ascii_lower);
    return out;
}

const std::string no_pool;

} // namespace

bool host_matches(std::string_view pattern, std::string_view host) noexcept {
    const std::string_view h = host_only(host);
    if (pattern.substr(0, 2) == "*.") {
        return ends_with_suffix(h, pattern.substr(1));
    }
    return proto::ascii_iequals(pattern, h);
}

// One route, ready to match. Owns what it compiled; points at the rest of
// the route in the listener's config.
struct route_table::compiled {
    const config::route* source = nullptr;
    std::vector<std::string> exact_hosts;   // lower-case
    std::vector<std::string> host_suffixes; // ".example.com": the pattern without its '*'
    std::unique_ptr<RE2> regex;             // path_regex, when set
    bool never = false;                     // path_regex that does not compile

    explicit compiled(const config::route& r) : source(&r) {
        for (const auto& h : r.hosts) {
            std::string p = lowered(h);
            if (p.substr(0, 2) == "*.") {
                host_suffixes.push_back(p.substr(1));
            } else {
                exact_hosts.push_back(std::move(p));
            }
        }
        if (!r.path_regex.empty()) {
            RE2::Options options;
            options.set_log_errors(false);
            regex = std::make_unique<RE2>(r.path_regex, options);
            // The loader refuses such a regex; a route built by hand with one
            // matches nothing rather than everything.
            never = !regex->ok();
        }
    }

    bool host_ok(std::string_view host) const noexcept {
        if (exact_hosts.empty() && host_suffixes.empty()) {
            return true;
        }
        const std::string_view h = host_only(host);
        for (const auto& e : exact_hosts) {
            if (proto::ascii_iequals(e, h)) {
                return true;
            }
        }
        for (const auto& s : host_suffixes) {
            if (ends_with_suffix(h, s)) {
                return true;
            }
        }
        return false;
    }

    // A value match needs every field of that name to have the value: with
    // "X-Env: canary" and "X-Env: prod" both sent, a server may read either,
    // so a route on canary must not take it.
    bool headers_ok(const std::vector<proto::http1::header_field>& fields) const noexcept {
        for (const auto& want : source->headers) {
            bool found = false;
            for (const auto& f : fields) {
                if (!proto::ascii_iequals(f.name, want.name)) {
                    continue;
                }
                if (want.value && f.value != *want.value) {
                    return false;
                }
                found = true;
            }
            if (!found) {
                return false;
            }
        }
        return true;
    }

    // Cheapest tests first; the regex last.
    bool matches(const proto::http1::request_head& h) const noexcept {
        const config::route& r = *source;
        if (never) {
            return false;
        }
        if (!r.methods.empty() &&
            std::find(r.methods.begin(), r.methods.end(), h.method) == r.methods.end()) {
            return false;
        }
        if (!r.path_exact.empty() && h.path != r.path_exact) {
            return false;
        }
        if (!r.path_prefix.empty() && h.path.substr(0, r.path_prefix.size()) != r.path_prefix) {
            return false;
        }
        if (!host_ok(h.host) || !headers_ok(h.headers)) {
            return false;
        }
        return !regex || RE2::FullMatch(re2::StringPiece(h.path.data(), h.path.size()), *regex);
    }
};

bool has_dot_segment(std::string_view path) noexcept {
    while (!path.empty()) {
        const std::size_t slash = path.find('/');
        std::string_view seg = path.substr(0, slash);
        path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
        std::size_t dots = 0;
        bool other = seg.empty();
        for (std::size_t i = 0; i < seg.size() && !other; ++i) {
            if (seg[i] == '.') {
                ++dots;
            } else if (seg[i] == '%' && i + 2 < seg.size() && seg[i + 1] == '2' &&
                       (seg[i + 2] == 'e' || seg[i + 2] == 'E')) {
                ++dots;
                i += 2;
            } else {
                other = true;
            }
        }
        if (!other && (dots == 1 || dots == 2)) return true;
    }
    return false;
}

route_table::route_table(const config::listener& l) : listener_(&l) {
    routes_.reserve(l.routes.size());
    for (const auto& r : l.routes) {
        routes_.push_back(std::make_unique<compiled>(r));
    }
}

route_table::~route_table() = default;
route_table::route_table(route_table&&) noexcept = default;
route_table& route_table::operator=(route_table&&) noexcept = default;

int route_table::find(const proto::http1::request_head& h) const noexcept {
    for (std::size_t i = 0; i < routes_.size(); ++i) {
        if (routes_[i]->matches(h)) {
            return static_cast<int>(i);
        }
    }
    return listener_->pool.empty() ? -1 : static_cast<int>(routes_.size());
}

std::string_view route_table::name(int index) const noexcept {
    if (index >= 0 && static_cast<std::size_t>(index) < routes_.size()) {
        return routes_[static_cast<std::size_t>(index)]->source->name;
    }
    return static_cast<std::size_t>(index) == routes_.size() ? "default" : "";
}

const std::string& route_table::pool(int index) const noexcept {
    if (index >= 0 && static_cast<std::size_t>(index) < routes_.size()) {
        return routes_[static_cast<std::size_t>(index)]->source->pool;
    }
    return static_cast<std::size_t>(index) == routes_.size() ? listener_->pool : no_pool;
}

const config::route* route_table::route(int index) const noexcept {
    if (index >= 0 && static_cast<std::size_t>(index) < routes_.size()) {
        return routes_[static_cast<std::size_t>(index)]->source;
    }
    return nullptr;
}

std::size_t route_table::size() const noexcept {
    return routes_.size();
}

} // namespace ringway::core
