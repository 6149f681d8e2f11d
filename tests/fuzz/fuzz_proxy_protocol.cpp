// libFuzzer target for the PROXY protocol codec (proto/proxy). The input is
// the bytes a client sent. Properties, besides never crashing under
// ASan/UBSan:
//   - fed as growing prefixes (as bytes arrive), the results are need_more up
//     to some prefix and then never change: a prefix of a valid header is
//     need_more, never an error, and more bytes never turn an error or a
//     header into something else;
//   - done: 0 < consumed <= size; error: a non-empty reason; otherwise
//     consumed is 0;
//   - a header that parses, written again with write_v1 and write_v2 (or
//     write_v2_local), parses to the same command and addresses.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "proto/proxy/proxy_protocol.hpp"
#include "tests/unit/proto/proxy/proxy_test_util.hpp"

namespace {

using namespace ringway::proto::proxy;
using test::describe;

[[noreturn]] void violated(const char* what, const std::string& detail = {}) {
    std::fprintf(stderr, "fuzz_proxy_protocol: property violated: %s %s\n", what, detail.c_str());
    std::abort();
}

void check_shape(const result& r, std::size_t size) {
    switch (r.status) {
    case parse_status::need_more:
        if (r.consumed != 0) violated("need_more with consumed != 0");
        break;
    case parse_status::error:
        if (r.consumed != 0 || r.reason == nullptr || *r.reason == '\0')
            violated("error without a reason, or with consumed != 0");
        break;
    case parse_status::done:
        if (r.consumed == 0 || r.consumed > size) violated("done with consumed out of range");
        if (r.version != 1 && r.version != 2) violated("done without a version");
        if (r.consumed > (r.version == 1 ? max_v1_size : max_header_size))
            violated("header longer than the cap", describe(r));
        break;
    }
}

// The addresses part of describe(): what must survive a rewrite.
std::string addresses_of(const result& r) {
    const std::string d = describe(r);
    return d.substr(d.find(':'));
}

void check_rewrite(const result& r) {
    if (r.command == proxy_command::local) {
        std::uint8_t buf[16];
        const result again = parse(std::string_view(reinterpret_cast<const char*>(buf),
                                                    write_v2_local(buf)));
        if (describe(again) != "done v2 local 16: unspec -> unspec") violated("LOCAL rewrite");
        return;
    }
    std::string one;
    write_v1(one, r.source, r.destination);
    std::string two;
    write_v2(two, r.source, r.destination);
    for (const std::string& h : {one, two}) {
        const result again = parse(h);
        if (again.status != parse_status::done || again.consumed != h.size() ||
            again.command != proxy_command::proxy || addresses_of(again) != addresses_of(r))
            violated("rewritten header parses differently", describe(r) + " / " + describe(again));
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const result whole = parse(in);
    check_shape(whole, size);
    const std::string expected = describe(whole);

    // Growing prefixes: need_more until the first decision, which then holds.
    bool decided = false;
    std::string first;
    for (std::size_t k = 0; k <= size; ++k) {
        const result r = parse(in.substr(0, k));
        check_shape(r, k);
        if (r.status == parse_status::need_more) {
            if (decided) violated("need_more after a decision", first);
            continue;
        }
        const std::string d = describe(r);
        if (!decided) {
            decided = true;
            first = d;
        } else if (d != first) {
            violated("decision changed with more bytes", first + " / " + d);
        }
    }
    if (decided != (whole.status != parse_status::need_more) || (decided && first != expected))
        violated("prefixes and whole disagree", first + " / " + expected);

    if (whole.status == parse_status::done) check_rewrite(whole);
    return 0;
}
