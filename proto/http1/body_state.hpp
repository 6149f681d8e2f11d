// body_reader's states (message.hpp keeps them as a byte): shared by body.cpp
// and response.cpp, which reports them as response_state. Private to proto/http1.
#pragma once

#include <cstdint>

namespace ringway::proto::http1::detail {

enum class body_state : std::uint8_t {
    done,
    failed,
    length,        // Content-Length bytes left
    close,         // until the peer closes
    size,          // chunk-size hex digits
    ext,           // the rest of the chunk-size line (chunk-ext)
    size_lf,       // the LF after the chunk-size line's CR
    data,          // chunk data
    data_cr,       // the CRLF after chunk data: CR
    data_lf,       //   LF
    trailer_start, // the start of a trailer field line, or the final CRLF
    trailer_name,
    trailer_value,
    trailer_lf,    // the LF ending a trailer field line
    end_lf,        // the LF of the final CRLF
};

} // namespace ringway::proto::http1::detail
