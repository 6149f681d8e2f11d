// Smooth weighted round robin, as NGINX does it (ngx_http_upstream_round_robin.c):
// on each pick every available server adds its weight to its `current`, the
// largest `current` wins and gives back the total. Weights 5, 1, 1 give
// a a b a c a a: the heavy server's turns are spread, not bunched.
#include <algorithm>
#include <vector>

#include "core/upstream/balancer/policies.hpp"

namespace ringway::core::balancing {

namespace {

class round_robin final : public balancer {
public:
    explicit round_robin(std::size_t servers) : current_(servers, 0) {}

    int pick(const balancer_view& in) noexcept override {
        // A local copy: the stores to current_ cannot then alias the view's
        // fields, which the compiler would otherwise reload every server.
        const balancer_view view = in;
        const std::size_t n = std::min(view.size, current_.size());
        std::int64_t* current = current_.data();
        std::int64_t total = 0, best_current = 0;
        std::size_t best = n;
        for (std::size_t i = 0; i < n; ++i) {
            if (!view.available(i)) continue;
            const std::int64_t c = current[i] + view.weight[i];
            current[i] = c;
            total += view.weight[i];
            if (best == n || c > best_current) {
                best = i;
                best_current = c;
            }
        }
        if (best == n) return -1;
        current[best] = best_current - total;
        return static_cast<int>(best);
    }

private:
    // Per server, indexed like the pool's servers. Servers not available in
    // a pick keep theirs; both tiers share the vector (their sets are disjoint).
    std::vector<std::int64_t> current_;
};

} // namespace

std::unique_ptr<balancer> make_round_robin(const config::pool& cfg) {
    return std::make_unique<round_robin>(cfg.servers.size());
}

} // namespace ringway::core::balancing
