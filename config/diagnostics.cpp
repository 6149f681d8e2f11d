// Wording of the loader's problems; see config/diagnostics.hpp.
#include "config/diagnostics.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <tuple>

namespace ringway::config::detail {
namespace {

bool is_bare_key(std::string_view key) {
    return !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
    });
}

std::string trim(std::string_view s) {
    const auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos) {
        return {};
    }
    const auto e = s.find_last_not_of(" \t\r\n");
    return std::string(s.substr(b, e - b + 1));
}

// The column where `key` starts on the line of `loc`, the location of its
// value (or of its [table] header); the value's own column when not found.
std::uint32_t key_column(const toml::source_location& loc, std::string_view key) {
    const std::string& line = loc.line_str();
    std::size_t limit = loc.column() > 0 ? loc.column() - 1 : 0;
    const auto first = line.find_first_not_of(" \t");
    if (first != std::string::npos && line[first] == '[' && limit <= first) {
        limit = line.size();
    }
    limit = std::min(limit, line.size());
    if (key.empty() || key.size() > limit) {
        return loc.column();
    }
    const auto pos = line.rfind(key, limit - key.size());
    return pos == std::string::npos ? loc.column() : static_cast<std::uint32_t>(pos + 1);
}

} // namespace

bool contains(std::span<const std::string_view> list, std::string_view word) {
    return std::find(list.begin(), list.end(), word) != list.end();
}

// Listener and pool names: what metrics labels and logs can carry unquoted.
bool is_valid_name(std::string_view name) {
    return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-' || c == '.';
    });
}

// `parent.key`, quoting the key as TOML would when it is not a bare key.
std::string join(std::string_view parent, std::string_view key) {
    std::string out(parent);
    if (!out.empty()) {
        out += '.';
    }
    if (is_bare_key(key)) {
        out.append(key);
    } else {
        out += '"';
        out.append(key);
        out += '"';
    }
    return out;
}

std::string element(std::string_view parent, std::size_t i) {
    return std::string(parent) + "[" + std::to_string(i) + "]";
}

// A string as a TOML literal for messages: quoted, escaped, shortened.
std::string quote(std::string_view s) {
    constexpr std::size_t limit = 60;
    std::string out = "\"";
    for (std::size_t i = 0; i < s.size() && i < limit; ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof(buf), "\\u%04x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    if (s.size() > limit) {
        out += "...";
    }
    out += '"';
    return out;
}

std::string format_duration(duration d) {
    auto ms = d.count();
    if (ms == 0) {
        return "0s";
    }
    std::string out;
    constexpr std::pair<std::int64_t, std::string_view> parts[] = {
        {3'600'000, "h"}, {60'000, "m"}, {1'000, "s"}, {1, "ms"}};
    for (const auto& [size, unit] : parts) {
        if (ms >= size) {
            out += std::to_string(ms / size);
            out.append(unit);
            ms %= size;
        }
    }
    return out;
}

std::string format_size(std::uint64_t bytes) {
    constexpr std::uint64_t kib = 1024;
    constexpr std::uint64_t mib = kib * kib;
    constexpr std::uint64_t gib = mib * kib;
    if (bytes != 0 && bytes % gib == 0) {
        return std::to_string(bytes / gib) + "GiB";
    }
    if (bytes != 0 && bytes % mib == 0) {
        return std::to_string(bytes / mib) + "MiB";
    }
    if (bytes != 0 && bytes % kib == 0) {
        return std::to_string(bytes / kib) + "KiB";
    }
    return std::to_string(bytes) + "B";
}

std::string range(std::int64_t lo, std::int64_t hi) {
    return std::to_string(lo) + ".." + std::to_string(hi);
}

// The value as the user wrote it (strings quoted), without its type.
std::string literal(const toml::value& v) {
    switch (v.type()) {
    case toml::value_t::string:
        return quote(v.as_string().str);
    case toml::value_t::integer:
        return std::to_string(v.as_integer());
    case toml::value_t::floating: {
        std::ostringstream os;
        os << v.as_floating();
        return os.str();
    }
    case toml::value_t::boolean:
        return v.as_boolean() ? "true" : "false";
    default:
        return {};
    }
}

// The value's type, and the value itself for scalars: `string "x"`, `integer 5`.
std::string found(const toml::value& v) {
    switch (v.type()) {
    case toml::value_t::string:
        return "string " + literal(v);
    case toml::value_t::integer:
        return "integer " + literal(v);
    case toml::value_t::floating:
        return "float " + literal(v);
    case toml::value_t::boolean:
        return "boolean " + literal(v);
    case toml::value_t::array:
        return v.as_array().empty() ? "empty array" : "array";
    case toml::value_t::table:
        return "table";
    case toml::value_t::offset_datetime:
    case toml::value_t::local_datetime:
        return "date-time";
    case toml::value_t::local_date:
        return "date";
    case toml::value_t::local_time:
        return "time";
    default:
        return "nothing";
    }
}

std::string found_expected(std::string_view f, std::string_view e) {
    std::string out = " (found ";
    out.append(f);
    out += ", expected ";
    out.append(e);
    out += ')';
    return out;
}

// The closest candidate when it is close enough to be a plausible typo.
std::optional<std::string> suggest(std::string_view word,
                                   std::span<const std::string_view> candidates) {
    std::optional<std::string> best;
    std::size_t best_distance = 0;
    for (const auto candidate : candidates) {
        const std::size_t d = edit_distance(word, candidate);
        const std::size_t allowed = std::max<std::size_t>(2, candidate.size() / 3);
        if (d > allowed || d >= candidate.size()) {
            continue;
        }
        if (!best || d < best_distance) {
            best = std::string(candidate);
            best_distance = d;
        }
    }
    return best;
}

std::string did_you_mean(const std::optional<std::string>& s) {
    return s ? " (did you mean '" + *s + "'?)" : std::string();
}

std::string list_of(std::span<const std::string_view> words) {
    std::string out;
    for (const auto w : words) {
        if (!out.empty()) {
            out += ", ";
        }
        out.append(w);
    }
    return out;
}

// toml11 renders a syntax error as a headline and underlined source lines:
//   [error] toml::parse_array: missing array separator `,` after a value
//    --> t.toml
//      |
//    2 | x = [1 2]
//      |        ^--- should be `,`
// This turns it into "FILE:LINE:COL: syntax error: HEADLINE (NOTE)", the last
// underlined place being the one to fix; earlier places are added as context.
std::string syntax_message(const std::string& file, const std::string& what) {
    struct mark {
        unsigned long line;
        std::size_t column;
        std::string note;
    };
    std::istringstream in(what);
    std::string text;
    std::string headline;
    std::vector<mark> marks;
    std::vector<std::string> hints;
    unsigned long line_no = 0;
    bool first = true;
    while (std::getline(in, text)) {
        if (first) {
            first = false;
            std::string_view h = text;
            if (h.substr(0, 7) == "[error]") {
                h.remove_prefix(7);
            }
            headline = trim(h);
            if (headline.substr(0, 6) == "toml::") {
                const auto colon = headline.find(": ");
                headline =
                    colon == std::string::npos ? std::string() : trim(headline.substr(colon + 2));
            }
            continue;
        }
        const auto bar = text.find("| ");
        const std::string left = bar == std::string::npos ? trim(text) : trim(text.substr(0, bar));
        if (bar != std::string::npos && !left.empty() &&
            std::all_of(left.begin(), left.end(), [](char c) { return c >= '0' && c <= '9'; })) {
            line_no = std::stoul(left);
        } else if (bar != std::string::npos && left.empty() && line_no != 0) {
            const std::string_view under = std::string_view(text).substr(bar + 2);
            const auto col = under.find_first_of("^~");
            if (col != std::string_view::npos) {
                auto rest = under.substr(col);
                rest.remove_prefix(std::min(rest.size(), rest.find_first_not_of("^~-")));
                marks.push_back({line_no, col + 1, trim(rest)});
            }
        } else if (left.substr(0, 5) == "Hint:") {
            hints.push_back(trim(std::string_view(left).substr(5)));
        }
    }
    if (marks.empty()) {
        std::string flat = trim(what);
        std::replace(flat.begin(), flat.end(), '\n', ' ');
        return file + ": syntax error: " + flat;
    }
    const mark& main = marks.back();
    while (!headline.empty() && headline.back() == '.') {
        headline.pop_back();
    }
    if (headline.empty()) {
        headline = main.note;
    }
    std::string details = headline == main.note || main.note == "here" ? std::string() : main.note;
    for (std::size_t i = 0; i + 1 < marks.size(); ++i) {
        details += (details.empty() ? "" : "; ") + std::string("line ") +
                   std::to_string(marks[i].line) + ":" + std::to_string(marks[i].column) + ": " +
                   marks[i].note;
    }
    for (const auto& h : hints) {
        details += (details.empty() ? "hint: " : "; hint: ") + h;
    }
    std::string msg = file + ":" + std::to_string(main.line) + ":" + std::to_string(main.column) +
                      ": syntax error: " + headline;
    if (!details.empty()) {
        msg += " (" + details + ")";
    }
    return msg;
}

problems::problems(std::string file) : file_(std::move(file)) {}

void problems::add(std::uint32_t line, std::uint32_t column, std::string_view path,
                   std::string_view text) {
    std::string msg = file_ + ":" + std::to_string(line) + ":" + std::to_string(column) + ": ";
    if (!path.empty()) {
        msg.append(path);
        msg += ": ";
    }
    msg.append(text);
    list_.push_back({line, column, list_.size(), std::move(msg)});
}

void problems::at(const toml::value& v, std::string_view path, std::string_view text) {
    const auto loc = v.location();
    add(loc.line(), loc.column(), path, text);
}

void problems::at_key(const toml::value& v, std::string_view key, std::string_view path,
                      std::string_view text) {
    const auto loc = v.location();
    add(loc.line(), key_column(loc, key), path, text);
}

void problems::wrong_type(const toml::value& v, std::string_view path, std::string_view expected) {
    at(v, path, "wrong type" + found_expected(found(v), expected));
}

std::string problems::message() {
    std::stable_sort(list_.begin(), list_.end(), [](const entry& a, const entry& b) {
        return std::tie(a.line, a.column, a.seq) < std::tie(b.line, b.column, b.seq);
    });
    std::string out;
    for (const auto& e : list_) {
        if (!out.empty()) {
            out += '\n';
        }
        out += e.text;
    }
    return out;
}

} // namespace ringway::config::detail
