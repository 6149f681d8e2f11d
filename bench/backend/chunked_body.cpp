#include "bench/backend/chunked_body.hpp"

#include <algorithm>

namespace ringway::backend {

namespace {

// Longest size line (digits and extensions) and trailer section accepted.
constexpr std::size_t max_size_line = 4096;
constexpr std::size_t max_trailers = std::size_t(64) * 1024;

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

}  // namespace

chunked_decoder::status chunked_decoder::feed(std::string_view input, std::size_t& used,
                                              std::string* body,
                                              std::uint64_t max_body) noexcept {
    std::size_t pos = 0;
    used = 0;
    while (pos < input.size()) {
        if (state_ == state::data) {
            auto take = std::size_t(std::min<std::uint64_t>(remaining_, input.size() - pos));
            total_ += take;
            if (max_body != 0 && total_ > max_body) {
                used = pos;
                return status::too_large;
            }
            if (body != nullptr) {
                body->append(input.data() + pos, take);
            }
            pos += take;
            remaining_ -= take;
            if (remaining_ == 0) {
                state_ = state::data_cr;
            }
            continue;
        }
        char c = input[pos++];
        switch (state_) {
        case state::size: {
            int v = hex_value(c);
            if (v >= 0) {
                if (remaining_ >> 59 != 0) {
                    return status::bad;  // over 2^63
                }
                remaining_ = remaining_ * 16 + std::uint64_t(v);
                digits_ = true;
            } else if (c == ';' || c == ' ' || c == '\t') {
                if (!digits_) {
                    return status::bad;
                }
                state_ = state::extension;
            } else if (c == '\r' && digits_) {
                state_ = state::size_lf;
            } else {
                return status::bad;
            }
            if (++line_bytes_ > max_size_line) {
                return status::bad;
            }
            break;
        }
        case state::extension:
            if (c == '\r') {
                state_ = state::size_lf;
            } else if (c == '\n' || ++line_bytes_ > max_size_line) {
                return status::bad;
            }
            break;
        case state::size_lf:
            if (c != '\n') {
                return status::bad;
            }
            line_bytes_ = 0;
            digits_ = false;
            state_ = remaining_ == 0 ? state::trailer_start : state::data;
            break;
        case state::data:
            break;  // handled above
        case state::data_cr:
            if (c != '\r') {
                return status::bad;
            }
            state_ = state::data_lf;
            break;
        case state::data_lf:
            if (c != '\n') {
                return status::bad;
            }
            state_ = state::size;
            break;
        case state::trailer_start:
            if (c == '\r') {
                state_ = state::final_lf;
                break;
            }
            state_ = state::trailer_line;
            [[fallthrough]];
        case state::trailer_line:
            if (c == '\r') {
                state_ = state::trailer_lf;
            } else if (c == '\n') {
                return status::bad;
            }
            if (++line_bytes_ > max_trailers) {
                return status::bad;
            }
            break;
        case state::trailer_lf:
            if (c != '\n') {
                return status::bad;
            }
            state_ = state::trailer_start;
            break;
        case state::final_lf:
            if (c != '\n') {
                return status::bad;
            }
            used = pos;
            return status::done;
        }
    }
    used = pos;
    return status::more;
}

}  // namespace ringway::backend
