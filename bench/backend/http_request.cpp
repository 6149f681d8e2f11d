#include "bench/backend/http_request.hpp"

#include <charconv>
#include <cstring>

namespace ringway::backend {

namespace {

char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i])) {
            return false;
        }
    }
    return true;
}

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

bool is_token_char(char c) noexcept {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
        return true;
    }
    return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

bool is_token(std::string_view s) noexcept {
    if (s.empty()) {
        return false;
    }
    for (char c : s) {
        if (!is_token_char(c)) {
            return false;
        }
    }
    return true;
}

// Looks for `token` in a comma-separated header value, case-insensitively.
bool has_token(std::string_view list, std::string_view token) noexcept {
    while (!list.empty()) {
        auto comma = list.find(',');
        std::string_view item = trim(list.substr(0, comma));
        if (iequals(item, token)) {
            return true;
        }
        if (comma == std::string_view::npos) {
            break;
        }
        list.remove_prefix(comma + 1);
    }
    return false;
}

parse_status fail(request_head& out, int status) noexcept {
    out.error_status = status;
    return parse_status::bad;
}

}  // namespace

parse_status parse_request_head(std::string_view input, request_head& out) noexcept {
    out = request_head{};
    std::size_t skipped = 0;
    while (skipped + 1 < input.size() && input[skipped] == '\r' && input[skipped + 1] == '\n') {
        skipped += 2;
    }
    std::string_view rest = input.substr(skipped);
    if (rest.size() == 1 && rest[0] == '\r') {
        return parse_status::incomplete;
    }
    const void* end = memmem(rest.data(), rest.size(), "\r\n\r\n", 4);
    if (end == nullptr) {
        return rest.size() > max_request_head ? fail(out, 431) : parse_status::incomplete;
    }
    std::size_t head_size = std::size_t(static_cast<const char*>(end) - rest.data()) + 4;
    if (head_size > max_request_head) {
        return fail(out, 431);
    }
    out.head_length = skipped + head_size;
    std::string_view head = rest.substr(0, head_size - 2);  // each line ends with CRLF

    // Request line: METHOD SP TARGET SP HTTP/1.x
    auto line_end = head.find("\r\n");
    std::string_view line = head.substr(0, line_end);
    head.remove_prefix(line_end + 2);
    auto sp1 = line.find(' ');
    auto sp2 = line.rfind(' ');
    if (sp1 == std::string_view::npos || sp2 == sp1) {
        return fail(out, 400);
    }
    std::string_view method = line.substr(0, sp1);
    std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    std::string_view version = line.substr(sp2 + 1);
    if (!is_token(method) || target.empty() || target.find(' ') != std::string_view::npos) {
        return fail(out, 400);
    }
    if (version == "HTTP/1.1") {
        out.http10 = false;
    } else if (version == "HTTP/1.0") {
        out.http10 = true;
    } else if (version.starts_with("HTTP/")) {
        return fail(out, 505);
    } else {
        return fail(out, 400);
    }
    out.head_method = method == "HEAD";
    out.get_method = method == "GET";
    out.target = target;

    bool close = false;
    bool keep_alive = false;
    bool have_length = false;
    bool have_coding = false;
    while (!head.empty()) {
        line_end = head.find("\r\n");
        line = head.substr(0, line_end);
        head.remove_prefix(line_end + 2);
        auto colon = line.find(':');
        if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) {
            return fail(out, 400);  // also rejects obsolete line folding
        }
        std::string_view name = line.substr(0, colon);
        std::string_view value = trim(line.substr(colon + 1));
        if (iequals(name, "content-length")) {
            std::uint64_t n = 0;
            auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
            if (value.empty() || ec != std::errc{} || p != value.data() + value.size() ||
                (have_length && n != out.content_length)) {
                return fail(out, 400);
            }
            out.content_length = n;
            have_length = true;
        } else if (iequals(name, "transfer-encoding")) {
            if (have_coding) {
                return fail(out, 400);  // one Transfer-Encoding line, and only chunked
            }
            have_coding = true;
            if (!iequals(value, "chunked")) {
                return fail(out, 501);  // gzip, compress, ...: not implemented
            }
            out.chunked = true;
        } else if (iequals(name, "connection")) {
            close = close || has_token(value, "close");
            keep_alive = keep_alive || has_token(value, "keep-alive");
        }
    }
    if (out.chunked && (have_length || out.http10)) {
        return fail(out, 400);  // ambiguous framing (RFC 9112 section 6.1)
    }
    out.keep_alive = !close && (!out.http10 || keep_alive);
    return parse_status::complete;
}

}  // namespace ringway::backend
