// How the TOML loader words its problems: key paths, descriptions of values,
// "did you mean" suggestions, and the list of problems of one file rendered as
//   FILE:LINE:COL: KEY.PATH: what is wrong (found X, expected Y)
// Private to config/ (it includes toml11); control thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <toml.hpp>

#include "config/units.hpp"

namespace ringway::config::detail {

// True when `word` is one of `list`.
bool contains(std::span<const std::string_view> list, std::string_view word);

// Listener and pool names: [A-Za-z0-9_.-]+, what metrics labels and logs can
// carry unquoted.
bool is_valid_name(std::string_view name);

// "parent.key", the key quoted as TOML would when it is not a bare key
// (pools."my pool"); just "key" when parent is empty.
std::string join(std::string_view parent, std::string_view key);

// "parent[i]", i counted from 0.
std::string element(std::string_view parent, std::size_t i);

// A string as a TOML literal for messages: quoted, escaped, cut after 60 bytes.
std::string quote(std::string_view s);

// The shortest spelling parse_duration reads back: "1m30s", "250ms", "0s".
std::string format_duration(duration d);

// "1GiB", "1MiB", "16KiB", "100B": the largest binary unit that divides exactly.
std::string format_size(std::uint64_t bytes);

// "lo..hi".
std::string range(std::int64_t lo, std::int64_t hi);

// The value as written, strings quoted ("\"5x\"", "300", "true"); empty for
// arrays, tables and dates.
std::string literal(const toml::value& v);

// Type and value, for wrong-type reports: `string "x"`, `integer 5`,
// `empty array`, `table`.
std::string found(const toml::value& v);

// " (found F, expected E)".
std::string found_expected(std::string_view f, std::string_view e);

// The candidate nearest to `word` when it is a plausible typo: edit distance at
// most max(2, a third of its length) and less than its length.
std::optional<std::string> suggest(std::string_view word,
                                   std::span<const std::string_view> candidates);

// " (did you mean 'S'?)", or "" without a suggestion.
std::string did_you_mean(const std::optional<std::string>& s);

// "a, b, c".
std::string list_of(std::span<const std::string_view> words);

// Turns the text of a toml11 syntax_error (a headline and underlined source
// lines) into one line: "FILE:LINE:COL: syntax error: HEADLINE (NOTES)".
std::string syntax_message(const std::string& file, const std::string& what);

// Every problem found in one file. Problems are added in any order and
// rendered sorted by position, one per line.
class problems {
public:
    // `file` is the name that starts every line.
    explicit problems(std::string file);

    // A problem at LINE:COL; `path` may be empty (then no "KEY.PATH: " part).
    void add(std::uint32_t line, std::uint32_t column, std::string_view path,
             std::string_view text);

    // A problem with the value `v`, at its position.
    void at(const toml::value& v, std::string_view path, std::string_view text);

    // A problem with the key `key` whose value is `v`: at the key when it can
    // be found on the value's line (or [table] header), else at the value.
    void at_key(const toml::value& v, std::string_view key, std::string_view path,
                std::string_view text);

    // "wrong type (found <found(v)>, expected <expected>)" at `v`.
    void wrong_type(const toml::value& v, std::string_view path, std::string_view expected);

    bool empty() const { return list_.empty(); }

    // All problems, sorted by position (then by order of report), joined by '\n'.
    std::string message();

private:
    struct entry {
        std::uint32_t line;
        std::uint32_t column;
        std::size_t seq;
        std::string text;
    };
    std::string file_;
    std::vector<entry> list_;
};

} // namespace ringway::config::detail
