// libFuzzer target for the TLS ClientHello reader (proto/tls). The input is
// the bytes a client sent. Properties, besides never crashing under
// ASan/UBSan:
//   - fed as growing prefixes (as bytes arrive), the results are need_more up
//     to some prefix and then never change: a prefix of a hello that is read
//     is never malformed or not_tls, and a decision is stable when more bytes
//     are appended;
//   - done: consumed <= size, a server name that is a lower-case DNS name
//     without a trailing dot, at most max_alpn_protocols kept;
//   - a hello that is read, cut into records of another size, reads the same.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "proto/tls/client_hello.hpp"
#include "tests/unit/proto/tls/tls_test_util.hpp"

namespace {

using namespace ringway::proto::tls;
using test::describe;

[[noreturn]] void violated(const char* what, const std::string& detail = {}) {
    std::fprintf(stderr, "fuzz_client_hello: property violated: %s %s\n", what, detail.c_str());
    std::abort();
}

void check_done(const result& r, std::size_t size) {
    if (r.consumed == 0 || r.consumed > size) violated("consumed out of range", describe(r));
    const std::string_view name = r.server_name();
    if (name.size() > max_server_name || (!name.empty() && name.back() == '.'))
        violated("server name too long or with a trailing dot", describe(r));
    for (char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                        c == '_' || c == '.';
        if (!ok) violated("bad byte in the server name", describe(r));
    }
    if (r.alpn_count > max_alpn_protocols || r.alpn_count > r.alpn_offered ||
        (r.alpn_offered > 0 && !r.has_alpn))
        violated("ALPN counts", describe(r));
    for (std::size_t i = 0; i < r.alpn_count; ++i)
        if (r.alpn(i).empty()) violated("empty ALPN protocol", describe(r));
}

// The handshake bytes of the records in in[0, end) (a hello that was read).
std::string handshake_bytes(std::string_view in, std::size_t end) {
    std::string out;
    for (std::size_t pos = 0; pos + 5 <= end;) {
        const std::size_t len = std::size_t(std::uint8_t(in[pos + 3])) << 8 | std::uint8_t(in[pos + 4]);
        out.append(in.substr(pos + 5, len));
        pos += 5 + len;
    }
    return out;
}

std::string without_consumed(const std::string& d) { return d.substr(0, d.find(" consumed=")); }

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const result whole = read_client_hello(in);
    const std::string expected = describe(whole);
    if (whole.status == read_status::done) check_done(whole, size);
    if ((whole.status == read_status::malformed || whole.status == read_status::not_tls) &&
        (whole.reason == nullptr || *whole.reason == '\0'))
        violated("refusal without a reason");

    // Growing prefixes (every one for short inputs, ~512 for long ones).
    const std::size_t step = size <= 1024 ? 1 : size / 512;
    std::string first;
    for (std::size_t k = 0; k <= size; k += step) {
        const std::string d = describe(read_client_hello(in.substr(0, k)));
        if (d == "need_more") {
            if (!first.empty()) violated("need_more after a decision", first);
        } else if (first.empty()) {
            first = d;
        } else if (d != first) {
            violated("decision changed with more bytes", first + " / " + d);
        }
    }
    if (!first.empty() && first != expected) violated("prefixes and whole disagree", first + " / " + expected);

    // More bytes after the input change nothing once it is decided.
    if (whole.status != read_status::need_more) {
        const std::string more = std::string(in) + std::string("\x17\x03\x03\x00\x02hi", 7);
        if (describe(read_client_hello(more)) != expected) violated("appending changed the result");
    }

    // Cut into records of another size, the same hello.
    if (whole.status == read_status::done) {
        const std::string message = handshake_bytes(in, whole.consumed);
        const std::size_t piece = 1 + (size > 40 ? data[40] : size) % 97;
        std::vector<std::size_t> sizes(message.size() / piece + 1, piece);
        const std::string again = describe(read_client_hello(test::records(message, sizes)));
        if (without_consumed(again) != without_consumed(expected) &&
            again != "malformed: ClientHello too large")
            violated("re-recorded hello differs", expected + " / " + again);
    }
    return 0;
}
