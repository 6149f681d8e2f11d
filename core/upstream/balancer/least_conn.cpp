// Weighted least connections, as NGINX's least_conn: the server with the
// fewest in-flight connections per unit of weight wins (active[i] / weight[i],
// compared by cross-multiplication). When several tie, smooth weighted round
// robin among them decides, so an idle pool still spreads by weight and
// equal servers take turns.
#include <algorithm>
#include <vector>

#include "core/upstream/balancer/policies.hpp"

namespace ringway::core::balancing {

namespace {

class least_conn final : public balancer {
public:
    explicit least_conn(std::size_t servers) : current_(servers, 0) {}

    int pick(const balancer_view& in) noexcept override {
        const balancer_view view = in; // a local copy: no aliasing reloads
        const std::size_t n = std::min(view.size, current_.size());
        const std::uint32_t* a = view.active;
        const std::uint32_t* w = view.weight;
        // Pass 1: the least loaded server, and whether others tie with it.
        std::size_t best = n;
        bool tie = false;
        for (std::size_t i = 0; i < n; ++i) {
            if (!view.available(i)) continue;
            if (best == n) {
                best = i;
                continue;
            }
            // a[i] / w[i] vs a[best] / w[best]; 32 x 32 bits fits in 64.
            const std::uint64_t lhs = std::uint64_t(a[i]) * w[best];
            const std::uint64_t rhs = std::uint64_t(a[best]) * w[i];
            if (lhs < rhs) {
                best = i;
                tie = false;
            } else if (lhs == rhs) {
                tie = true;
            }
        }
        if (best == n) return -1;
        if (!tie) return static_cast<int>(best);
        // Pass 2: smooth weighted round robin among the tied servers only.
        const std::size_t first = best;
        std::int64_t total = 0;
        for (std::size_t i = first; i < n; ++i) {
            if (!view.available(i)) continue;
            if (std::uint64_t(a[i]) * w[first] != std::uint64_t(a[first]) * w[i]) continue;
            current_[i] += w[i];
            total += w[i];
            if (current_[i] > current_[best]) best = i;
        }
        current_[best] -= total;
        return static_cast<int>(best);
    }

private:
    // Round robin state per server, touched only when servers tie.
    std::vector<std::int64_t> current_;
};

} // namespace

std::unique_ptr<balancer> make_least_conn(const config::pool& cfg) {
    return std::make_unique<least_conn>(cfg.servers.size());
}

} // namespace ringway::core::balancing
