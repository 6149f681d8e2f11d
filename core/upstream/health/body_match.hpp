// Streaming substring search for pools.NAME.health.expect_body: the body
// arrives in pieces, and the text may straddle two of them. Keeps the last
// needle-1 bytes between pieces in a buffer reserved once; no allocation per
// check. One thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

namespace ringway::core {

class body_matcher {
public:
    // `needle`: the text to find (empty: every body matches); `max_piece`:
    // the largest piece feed() will get. Allocates; call once at start-up.
    void init(std::string needle, std::size_t max_piece) {
        needle_ = std::move(needle);
        max_piece_ = max_piece == 0 ? 1 : max_piece;
        window_.reserve(needle_.size() + max_piece_);
        reset();
    }

    // Forgets what was seen: a new body starts.
    void reset() noexcept {
        window_.clear();
        found_ = needle_.empty();
    }

    // Looks at the next piece of body; pieces larger than max_piece are split.
    void feed(std::string_view piece) noexcept {
        while (!found_ && !piece.empty()) {
            std::string_view part = piece.substr(0, max_piece_);
            piece.remove_prefix(part.size());
            window_.append(part);
            if (window_.find(needle_) != std::string::npos) {
                found_ = true;
                return;
            }
            std::size_t keep = needle_.size() - 1;
            if (window_.size() > keep) window_.erase(0, window_.size() - keep);
        }
    }

    // True once the needle was seen in the body fed since reset().
    bool found() const noexcept { return found_; }

private:
    std::string needle_;
    std::string window_;
    std::size_t max_piece_ = 1;
    bool found_ = true;
};

} // namespace ringway::core
