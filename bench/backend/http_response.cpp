#include "bench/backend/http_response.hpp"

namespace ringway::backend {

std::string_view reason_phrase(int status) noexcept {
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 413:
        return "Content Too Large";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Status";
    }
}

bool status_has_body(int status) noexcept { return status != 204 && status != 304; }

void append_head(std::string& out, int status, std::uint64_t content_length,
                 std::string_view server, connection_header connection, std::string_view extra) {
    out += "HTTP/1.1 ";
    out += std::to_string(status);
    out += ' ';
    out += reason_phrase(status);
    out += "\r\n";
    if (status_has_body(status)) {
        out += "Content-Length: ";
        out += std::to_string(content_length);
        out += "\r\n";
    }
    out += "X-Server: ";
    out += server;
    out += "\r\n";
    if (connection == connection_header::close) {
        out += "Connection: close\r\n";
    } else if (connection == connection_header::keep_alive) {
        out += "Connection: keep-alive\r\n";
    }
    out += extra;
    out += "\r\n";
}

}  // namespace ringway::backend
