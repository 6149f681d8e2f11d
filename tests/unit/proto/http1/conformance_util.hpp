// The conformance tables' one piece of syntax beyond TOML: "{X*N}" in a raw
// string stands for N copies of the single ASCII character X.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ringway::proto::http1::test {

// Replaces every "{X*N}" (X one byte, N decimal digits) by N copies of X;
// anything else is kept as it is.
inline std::string expand_repeats(std::string_view raw) {
    std::string out;
    out.reserve(raw.size());
    std::size_t i = 0;
    while (i < raw.size()) {
        if (raw[i] == '{' && i + 3 < raw.size() && raw[i + 2] == '*') {
            std::size_t j = i + 3;
            std::size_t n = 0;
            while (j < raw.size() && raw[j] >= '0' && raw[j] <= '9' && j - i < 12)
                n = n * 10 + std::size_t(raw[j++] - '0');
            if (j > i + 3 && j < raw.size() && raw[j] == '}') {
                out.append(n, raw[i + 1]);
                i = j + 1;
                continue;
            }
        }
        out.push_back(raw[i++]);
    }
    return out;
}

} // namespace ringway::proto::http1::test
