#include "bench/load/request.hpp"

#include "proto/ascii.hpp"

namespace ringway::load {
namespace {

using proto::ascii_iequals;

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// The field name of "Name: value".
std::string_view header_name(std::string_view header) noexcept {
    return trim(header.substr(0, header.find(':')));
}

} // namespace

std::string build_request(const options& o, const url& u) {
    bool has_host = false, has_length = false, has_connection = false;
    for (const std::string& h : o.headers) {
        std::string_view name = header_name(h);
        has_host |= ascii_iequals(name, "host");
        has_length |= ascii_iequals(name, "content-length");
        has_connection |= ascii_iequals(name, "connection");
    }
    std::string r;
    r.reserve(256 + o.body_size);
    r += o.method;
    r += ' ';
    r += u.path;
    r += " HTTP/1.1\r\n";
    if (!has_host) r += "Host: " + u.host_header + "\r\n";
    for (const std::string& h : o.headers) r += h + "\r\n";
    if (o.body_size != 0 && !has_length) r += "Content-Length: " + std::to_string(o.body_size) + "\r\n";
    if (o.new_connection && !has_connection) r += "Connection: close\r\n";
    r += "\r\n";
    r.append(o.body_size, 'x');
    return r;
}

void keep_alive_scanner::reset() noexcept { *this = keep_alive_scanner{}; }

void keep_alive_scanner::feed(std::string_view in) noexcept {
    for (std::size_t i = 0; i < in.size() && !done_; ++i) {
        char c = in[i];
        if (c != '\n') {
            if (line_len_ < line_.size()) line_[line_len_++] = c;
            continue;
        }
        std::string_view line(line_.data(), line_len_);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        line_len_ = 0;
        on_line(line);
    }
}

void keep_alive_scanner::on_line(std::string_view line) noexcept {
    if (first_line_) {
        // "HTTP/1.x SSS reason"
        first_line_ = false;
        http10_ = line.starts_with("HTTP/1.0");
        interim_ = line.size() >= 12 && line[9] == '1' && line.substr(9, 3) != "101";
        saw_close_ = saw_keep_alive_ = false;
        return;
    }
    if (line.empty()) {
        if (interim_) {
            first_line_ = true; // the final response follows
            return;
        }
        keep_alive_ = !saw_close_ && (!http10_ || saw_keep_alive_);
        done_ = true;
        return;
    }
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || !ascii_iequals(line.substr(0, colon), "connection")) return;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty()) {
        std::size_t comma = value.find(',');
        std::string_view token = trim(value.substr(0, comma));
        saw_close_ |= ascii_iequals(token, "close");
        saw_keep_alive_ |= ascii_iequals(token, "keep-alive");
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
}

} // namespace ringway::load
