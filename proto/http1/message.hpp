// The HTTP/1.1 message parser the proxy uses (RFC 9110, RFC 9112): sans-I/O,
// incremental, strict. Two pieces:
//
// - head_parser: the start line and header section of a request or a
//   response. Fed bytes as they arrive, in any split; the result is the same
//   as if they had arrived at once. When the whole head arrives in one feed()
//   the parsed views point into the caller's bytes (no copy); otherwise the
//   parser has copied the partial head into its own storage (a head that spans
//   buffers) and the views point there. Views stay valid until the next
//   feed()/reset() or until the caller's bytes go away, whichever is first.
//   Limits (line length, header count, head size) are checked as bytes arrive,
//   so an over-long line is refused before its end is seen.
//
// - body_reader: delimits a message body (Content-Length, chunked with
//   extensions and trailers, or until close) over bytes as they arrive. It
//   never copies: it says how many input bytes belong to the body — the
//   proxy forwards those verbatim — and where the decoded data lies.
//
// Every refusal carries the status the proxy answers with (400, 413, 414,
// 431, 501, 505 for requests; responses are refused with 502) and a short
// static reason. No exceptions; one thread per parser; a parser is reused
// across the messages of a connection with reset(), and allocates nothing
// once its vectors and copy buffer have grown to the heads it sees.
// Where the RFCs leave a choice (repeated Content-Length, HTTP/1.2, bytes
// accepted in targets, ...) message.cpp says which one is made, at its top;
// tests/conformance/http1_requests.toml shows each on the wire.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringway::proto::http1 {

// Limits applied while parsing (config::http_options for requests).
struct limits {
    std::uint32_t max_request_line = 8 * 1024;  // request line: 414 past it;
                                                // status line: 502
    std::uint32_t max_header_count = 100;       // 431
    std::uint32_t max_head_size = 64 * 1024;    // whole head incl. start line: 431
    std::uint32_t max_chunk_extension = 1024;   // per chunk-size line: 400
    bool allow_bare_lf = false;                 // else a LF without CR is refused (400)
};

// One header field. `name` as received (case kept; compare with
// ascii_iequals); `value` without leading/trailing whitespace.
struct header_field {
    std::string_view name;
    std::string_view value;
};

// How a message's body is delimited.
enum class framing : std::uint8_t {
    none,      // no body (or Content-Length: 0)
    length,    // content_length bytes
    chunked,   // chunked transfer coding (last coding), then trailers
    close,     // responses only: until the server closes
};

// Fields common to both kinds of head, derived while parsing.
struct head_common {
    // HTTP/1.<minor>: 0 or 1. A higher minor (HTTP/1.2 .. 1.9) is processed
    // as 1.1, as RFC 9110 2.5 says; other majors are refused (505 / 502).
    std::uint8_t version_minor = 1;
    std::vector<header_field> headers;      // in order, duplicates kept
    framing body = framing::none;
    std::uint64_t content_length = 0;       // framing::length
    // The connection persists after this message: HTTP/1.1 unless
    // "Connection: close"; HTTP/1.0 only with "Connection: keep-alive".
    bool keep_alive = true;
    // Connection tokens seen (lower-case, comma-split), for hop-by-hop removal.
    bool connection_close = false;
    bool connection_keep_alive = false;
    bool connection_upgrade = false;
    // Other Connection tokens (views, as received): headers named by them are
    // hop-by-hop and removed when forwarding.
    std::vector<std::string_view> connection_tokens;
    std::string_view upgrade;               // the Upgrade header's value, "" if none
    std::size_t head_size = 0;              // bytes of the head including the final CRLF
};

struct request_head : head_common {
    std::string_view method;                // a token; case-sensitive
    std::string_view target;                // origin-form, absolute-form, authority-form (CONNECT) or "*"
    std::string_view path;                  // the target's path (origin-form: up to '?'; absolute-form: its path, "/" if empty)
    std::string_view query;                 // after '?', without it; "" if none
    // The Host header's value (required exactly once for HTTP/1.1 and
    // validated as uri-host[:port]); for an absolute-form target the
    // target's authority wins, as RFC 9112 3.2.2 says.
    std::string_view host;
    bool expect_continue = false;           // "Expect: 100-continue"
    // Upgrade requested: an Upgrade header and "upgrade" in Connection.
    bool wants_upgrade = false;
};

struct response_head : head_common {
    std::uint16_t status = 0;               // 100..599
    std::string_view reason;
};

// What head_parser::feed() found.
enum class parse_status : std::uint8_t {
    need_more,   // all input consumed, head not complete
    complete,    // head complete; consumed = bytes of this input that were head
    // refused: see error_status() / error_text(); final until reset().
    // consumed = bytes of this input up to and including the refused byte
    // (a line judged as a whole is refused at its LF).
    error,
};

struct parse_result {
    parse_status status = parse_status::need_more;
    std::size_t consumed = 0;
};

enum class message_kind : std::uint8_t { request, response };

class head_parser {
public:
    explicit head_parser(message_kind kind, const limits& lim = {});

    // Starts over for a new message. For responses, `request_method` is the
    // method of the request answered (HEAD and CONNECT change framing).
    void reset(std::string_view request_method = {});
    void set_limits(const limits& lim) noexcept { limits_ = lim; }

    parse_result feed(std::string_view in);

    // Valid after feed() returned complete.
    const request_head& request() const noexcept { return request_; }
    const response_head& response() const noexcept { return response_; }

    // The status to answer with (requests) and a short static reason; after
    // an error. A response error is always reported as 502 by the proxy.
    std::uint16_t error_status() const noexcept { return error_status_; }
    const char* error_text() const noexcept { return error_text_; }
    // Bytes of the head seen so far (for "was anything received" decisions).
    std::size_t bytes_seen() const noexcept { return seen_; }

    // For responses: a 1xx interim response (not 101) completes like any head
    // (framing none, consumed = its bytes); the caller forwards it and calls
    // reset(method) again, then feeds the rest for the final response. feed()
    // after complete or error returns the same status with consumed 0.

private:
    // A piece of the head as an offset from the head's first stored byte: the
    // head may still move (partial_ grows) until it is complete, so views are
    // made only then (materialize()).
    struct span {
        std::uint32_t off = 0;
        std::uint32_t len = 0;
    };
    struct field_span {
        span name;
        span value;
    };
    // What the lines said so far; turned into request_/response_ at the end.
    struct facts {
        span method, target, path, query, host, reason, upgrade;
        bool path_is_root = false;      // absolute-form with an empty path: "/"
        bool host_from_target = false;  // absolute-form and CONNECT: host = authority
        std::uint16_t status = 0;
        std::uint8_t minor = 1;
        std::uint32_t host_count = 0;
        bool has_length = false;
        std::uint64_t length = 0;
        bool has_te = false;
        std::uint32_t codings = 0;      // transfer codings listed, all TE lines
        std::uint32_t chunked = 0;      // of which "chunked"
        bool last_chunked = false;
        bool unknown_coding = false;
        bool conn_close = false;
        bool conn_keep_alive = false;
        bool conn_upgrade = false;
        bool has_upgrade = false;
        bool expect_continue = false;
        framing body = framing::none;
    };
    enum class scan : std::uint8_t { start_line, fields, complete, error };
    enum class line_result : std::uint8_t { next, skip, complete, error };

    // Checks bytes [p, p+n) of an unfinished line against the limits and the
    // early start-line checks; returns the index of the first refused byte, or
    // n. `ends_line`: the last byte is the line's LF.
    std::size_t check_bytes(const char* p, std::size_t n, bool ends_line) noexcept;
    line_result on_line(const char* line, std::size_t n, std::uint32_t off) noexcept;
    bool on_request_line(std::string_view line, std::uint32_t off) noexcept;
    bool on_status_line(std::string_view line, std::uint32_t off) noexcept;
    bool on_target(std::string_view method, std::string_view target, std::uint32_t off) noexcept;
    bool on_field_line(std::string_view line, std::uint32_t off) noexcept;
    bool on_field(std::string_view name, std::string_view value, std::uint32_t value_off) noexcept;
    bool on_head_end() noexcept;
    bool fail(std::uint16_t request_status, const char* why) noexcept;
    void materialize(const char* base) noexcept;

    message_kind kind_;
    limits limits_;
    bool head_request_ = false;     // responses: answering HEAD
    bool connect_request_ = false;  // responses: answering CONNECT
    std::string partial_;           // the stored head when it spans feeds (reused)
    std::size_t seen_ = 0;          // head bytes consumed, leading empty lines included
    std::size_t origin_ = 0;        // seen_ where the stored head begins
    std::size_t line_start_ = 0;    // seen_ where the current line begins
    bool early_done_ = false;       // start line: past the early (per-byte) checks
    scan state_ = scan::start_line;
    std::uint16_t error_status_ = 0;
    const char* error_text_ = "";
    facts facts_;
    std::vector<field_span> fields_;
    std::vector<span> tokens_;
    request_head request_;
    response_head response_;
};

// Delimits a body. Usage: start(), then feed() with each piece of input
// after the head until done() or failed(); the consumed bytes belong to the
// message (forward them), the rest of the input is the next message.
class body_reader {
public:
    struct step {
        std::size_t consumed = 0;   // input bytes that belong to this message's body
        std::string_view data;      // decoded body data found by this call (view into input)
    };

    void start(framing f, std::uint64_t content_length, const limits& lim = {}) noexcept;
    // Returns after consuming all input, after the body ends, after an
    // error, or after one piece of decoded data (call again with the rest).
    step feed(std::string_view in) noexcept;
    // The peer closed: true if that ends the body cleanly (framing::close,
    // or already done); false if the body was cut short.
    bool end_of_input() noexcept;
    // Chunk-size lines are held to RFC 9112 7.1 (hex digits, at most 15 of
    // them; BWS only before ';'; chunk-ext grammar; at most
    // max_chunk_extension bytes after the size), trailers to the rules of
    // header lines and, all together, to max_head_size.

    bool done() const noexcept;
    bool failed() const noexcept;
    std::uint16_t error_status() const noexcept { return error_status_; }  // 400 (requests)
    const char* error_text() const noexcept { return error_text_; }
    std::uint64_t body_bytes() const noexcept { return decoded_; }  // decoded data so far

private:
    friend class response_parser;  // reports where the body is (response_state)
    // State, bytes left of a Content-Length body or a chunk, the chunk-size
    // line (digits, extension bytes and grammar position), the trailer bytes.
    std::uint8_t state_ = 0;
    std::uint64_t left_ = 0;
    std::uint64_t decoded_ = 0;
    std::uint32_t digits_ = 0;
    std::uint32_t ext_len_ = 0;
    std::uint32_t trailer_bytes_ = 0;
    std::uint64_t chunk_size_ = 0;
    std::uint8_t sub_ = 0;
    limits limits_;
    std::uint16_t error_status_ = 0;
    const char* error_text_ = "";

    bool fail(const char* why) noexcept;
    bool on_size_byte(char c) noexcept;
    bool on_trailer_byte(char c) noexcept;
};

// Serializes a head canonically (start line, each header "Name: value\r\n"
// as parsed, final CRLF), appending to `out`. Parsing the result gives an
// equal head (the fuzz property).
void write_head(const request_head& h, std::string& out);
void write_head(const response_head& h, std::string& out);

// True for hop-by-hop header names (RFC 9110 7.6.1): Connection,
// Proxy-Connection, Keep-Alive, TE, Upgrade, and, in a head `h`, any name
// listed in its Connection header. Transfer-Encoding and Content-Length are
// framing, not hop-by-hop: the proxy keeps them (it forwards bodies verbatim).
bool is_hop_by_hop(std::string_view name, const head_common& h) noexcept;

// The reason phrase of a status the proxy generates ("Bad Request", ...).
std::string_view reason_phrase(std::uint16_t status) noexcept;

// A complete short response from the proxy itself: status line, Content-Type
// text/plain, Content-Length, "Connection: close" when `close`, and a body of
// one line "<status> <reason phrase>: <why>\n". Appended to `out`.
void write_error_response(std::uint16_t status, std::string_view why, bool close,
                          std::string& out);

} // namespace ringway::proto::http1
