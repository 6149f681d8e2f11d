// ASCII helpers for protocol text (header names, tokens): locale-free, no
// allocation, safe on any thread. HTTP field names are case-insensitive
// ASCII (RFC 9110 §5.1); these never look at a byte above 0x7f as a letter.
#pragma once

#include <cstddef>
#include <string_view>

namespace ringway::proto {

// 'A'..'Z' to 'a'..'z'; every other byte unchanged.
constexpr char ascii_lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; }

// Equal ignoring ASCII case.
constexpr bool ascii_iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    return true;
}

} // namespace ringway::proto
