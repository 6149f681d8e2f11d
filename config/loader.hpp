// TOML → config::root, with validation. Control thread only.
#pragma once

#include <string>
#include <variant>

#include "config/config.hpp"

namespace ringway::config {

// A human-readable, complete error: "FILE:LINE:COL: KEY.PATH: found X, expected Y
// (did you mean 'Z'?)". Several problems are joined by newlines.
struct load_error {
    std::string message;
};

using load_result = std::variant<root, load_error>;

// Reads and validates a file. Never throws.
load_result load_file(const std::string& path);
// Same, from text; `name` stands for the file name in messages.
load_result load_string(const std::string& text, const std::string& name);

} // namespace ringway::config
