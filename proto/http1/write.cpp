// Serializing heads and the proxy's own short responses; hop-by-hop names
// (RFC 9110 7.6.1) and reason phrases (RFC 9110 15).
#include "proto/http1/message.hpp"

#include <charconv>

#include "proto/ascii.hpp"

namespace ringway::proto::http1 {
namespace {

using proto::ascii_iequals;

void append_fields(const head_common& h, std::string& out) {
    for (const header_field& f : h.headers) {
        out.append(f.name);
        out.append(": ");
        out.append(f.value);
        out.append("\r\n");
    }
    out.append("\r\n");
}

void append_number(std::uint64_t n, std::string& out) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, n);
    out.append(buf, r.ptr);
}

void append_status(std::uint16_t status, std::string& out) {
    // Always three digits: statuses are 100..599.
    char buf[3] = {char('0' + status / 100 % 10), char('0' + status / 10 % 10),
                   char('0' + status % 10)};
    out.append(buf, 3);
}

} // namespace

void write_head(const request_head& h, std::string& out) {
    out.append(h.method);
    out.push_back(' ');
    out.append(h.target);
    out.append(h.version_minor == 0 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
    append_fields(h, out);
}

void write_head(const response_head& h, std::string& out) {
    out.append(h.version_minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ");
    append_status(h.status, out);
    out.push_back(' ');
    out.append(h.reason);
    out.append("\r\n");
    append_fields(h, out);
}

bool is_hop_by_hop(std::string_view name, const head_common& h) noexcept {
    // RFC 9110 7.6.1: Connection and the fields it names; Proxy-Connection,
    // Keep-Alive, TE and Upgrade as the RFC's list of connection-specific ones.
    if (ascii_iequals(name, "connection") || ascii_iequals(name, "proxy-connection") ||
        ascii_iequals(name, "keep-alive") || ascii_iequals(name, "te") ||
        ascii_iequals(name, "upgrade"))
        return true;
    // Framing is kept whatever Connection says: bodies are forwarded verbatim.
    if (ascii_iequals(name, "transfer-encoding") || ascii_iequals(name, "content-length"))
        return false;
    for (std::string_view t : h.connection_tokens)
        if (ascii_iequals(name, t)) return true;
    return false;
}

std::string_view reason_phrase(std::uint16_t status) noexcept {
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 103: return "Early Hints";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: break;
    }
    switch (status / 100) {  // unregistered: the class (RFC 9110 15)
    case 1: return "Informational";
    case 2: return "Success";
    case 3: return "Redirection";
    case 4: return "Client Error";
    case 5: return "Server Error";
    default: return "Unknown";
    }
}

void write_error_response(std::uint16_t status, std::string_view why, bool close,
                          std::string& out) {
    const std::string_view reason = reason_phrase(status);
    // Body: "<status> <reason>: <why>\n", one line whatever `why` holds.
    std::size_t body_size = 3 + 1 + reason.size() + (why.empty() ? 0 : 2 + why.size()) + 1;
    out.append("HTTP/1.1 ");
    append_status(status, out);
    out.push_back(' ');
    out.append(reason);
    out.append("\r\nContent-Type: text/plain\r\nContent-Length: ");
    append_number(body_size, out);
    out.append(close ? "\r\nConnection: close\r\n\r\n" : "\r\n\r\n");
    append_status(status, out);
    out.push_back(' ');
    out.append(reason);
    if (!why.empty()) {
        out.append(": ");
        for (char c : why) out.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? ' ' : c);
    }
    out.push_back('\n');
}

} // namespace ringway::proto::http1
