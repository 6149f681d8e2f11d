// Maglev consistent hashing (Eisenbud et al., "Maglev: A Fast and Reliable
// Software Network Load Balancer", NSDI 2016), weighted as Envoy does it.
//
// Each server has a permutation of the M table slots, (offset + j * skip) % M,
// from two hashes of its address text. The table is filled in rounds: each
// server in turn takes the next free slot of its permutation until the table
// is full; a server of weight w takes a turn in a round only while its share
// allows (Envoy's target weights, here in exact integers). A pick looks up
// table[key % M]; if that server may not be picked now, it probes the next
// slots, so the keys of the other servers stay where they were.
//
// Build once at make_balancer (allocates); pick is O(1) expected, no
// allocation. Primaries and backups get separate tables, so adding a backup
// moves no key among primaries.
#include <algorithm>
#include <cmath>
#include <string_view>
#include <vector>

#include "core/upstream/balancer/policies.hpp"

namespace ringway::core::balancing {

namespace {

// FNV-1a 64 from a chosen offset basis, then murmur3's fmix64 so that every
// input byte reaches every output bit. Fixed arithmetic: the same on every
// machine and process (std::hash would not be).
std::uint64_t hash(std::string_view text, std::uint64_t basis) noexcept {
    std::uint64_t h = basis;
    for (unsigned char c : text) {
        h ^= c;
        h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}
// Two different hash functions: FNV's standard basis, and another one.
constexpr std::uint64_t offset_basis = 0xcbf29ce484222325ull;
constexpr std::uint64_t skip_basis = 0x84222325cbf29ce4ull;

bool is_prime(std::uint64_t m) noexcept {
    if (m < 2) return false;
    for (std::uint64_t d = 2; d * d <= m; ++d)
        if (m % d == 0) return false;
    return true;
}

// The permutation covers all M slots only when M is prime (every skip in
// 1..M-1 is then coprime with M); without that the fill could loop forever.
// And with M >= servers, each server has at least one slot (every server
// takes a turn in the first round). Validation should refuse other sizes;
// here they are rounded up to the next prime that is large enough.
std::uint32_t table_size(std::uint32_t wanted, std::size_t servers) noexcept {
    std::uint64_t m = std::max<std::uint64_t>({wanted, servers, 2});
    while (!is_prime(m)) ++m;
    return static_cast<std::uint32_t>(m);
}

// Probes before checking that the tier has any server left to find at all;
// past it the probe goes on (at most M slots) only if one exists.
constexpr std::uint32_t probes_before_check = 64;

template <class T>
class maglev final : public balancer {
public:
    maglev(const config::pool& cfg, std::uint32_t m) : size_(m), servers_(cfg.servers.size()) {
        const double f = cfg.maglev.bounded_load;
        // A factor below 1 could leave every server over its bound; 1 is the
        // smallest that always leaves the least loaded one eligible. Large
        // factors are capped where they no longer bound anything in practice.
        if (f > 0.0) bounded_load_ = std::llround(std::clamp(f, 1.0, 1e6) * fixed_one);
        for (int tier = 0; tier < 2; ++tier) build(cfg, tier == 1, tiers_[tier]);
    }

    int pick(const balancer_view& in) noexcept override {
        const balancer_view view = in; // a local copy: no aliasing reloads
        const std::size_t n = std::min(view.size, servers_);
        load_bound bound;
        if (bounded_load_ != 0) {
            // Weighted bounded load: server s takes one more connection only
            // while active[s] + 1 <= ceil(f (sum + 1) w[s] / W), sums over the
            // available servers. With equal weights w[s] / W = 1 / k: no
            // server above f x the average. The least loaded per unit of
            // weight always qualifies (f >= 1), so a pick cannot fail on it.
            std::uint64_t sum = 0, weights = 0;
            for (std::size_t i = 0; i < n; ++i) {
                if (!view.available(i)) continue;
                sum += view.active[i];
                weights += view.weight[i];
            }
            if (weights == 0) return -1;
            bound.num = static_cast<unsigned __int128>(bounded_load_) * (sum + 1);
            bound.den = static_cast<unsigned __int128>(fixed_one) * weights;
        }
        const int s = probe(tiers_[0], view, n, bound);
        return s >= 0 ? s : probe(tiers_[1], view, n, bound);
    }

private:
    struct tier {
        std::vector<T> table;               // size_ slots, or empty: no server
        std::vector<std::uint32_t> members; // the servers in the table
    };
    static constexpr T empty_slot = static_cast<T>(~T(0));

    // Bounded load in integers: a + 1 <= ceil(x) holds exactly when a < x,
    // so a server is eligible while active * den < num * weight.
    struct load_bound {
        unsigned __int128 num = 0, den = 0; // den 0: no bound
    };

    static bool eligible(const balancer_view& view, std::size_t n, std::size_t s,
                         const load_bound& b) noexcept {
        if (s >= n || !view.available(s)) return false;
        return b.den == 0 || view.active[s] * b.den < b.num * view.weight[s];
    }

    int probe(const tier& t, const balancer_view& view, std::size_t n,
              const load_bound& bound) const noexcept {
        if (t.table.empty()) return -1;
        std::uint32_t j = static_cast<std::uint32_t>(view.key % size_);
        for (std::uint32_t step = 0; step < size_; ++step) {
            if (step == probes_before_check) {
                bool any = false;
                for (std::uint32_t s : t.members) any = any || eligible(view, n, s, bound);
                if (!any) return -1; // do not walk all M slots for nothing
            }
            const std::size_t s = t.table[j];
            if (eligible(view, n, s, bound)) return static_cast<int>(s);
            if (++j == size_) j = 0;
        }
        return -1;
    }

    void build(const config::pool& cfg, bool backup, tier& out) {
        struct entry {
            std::uint32_t server;
            std::string_view text;
            std::uint64_t pos, skip;     // next slot of its permutation
            std::uint64_t weight, target;
        };
        std::vector<entry> entries;
        std::uint64_t max_w = 0;
        for (std::size_t i = 0; i < cfg.servers.size(); ++i) {
            const config::server& s = cfg.servers[i];
            if (s.backup != backup || s.weight == 0) continue;
            const std::string_view text = s.addr.text;
            entries.push_back({static_cast<std::uint32_t>(i), text,
                               hash(text, offset_basis) % size_,
                               hash(text, skip_basis) % (size_ - 1) + 1, s.weight, 0});
            max_w = std::max<std::uint64_t>(max_w, s.weight);
            out.members.push_back(static_cast<std::uint32_t>(i));
        }
        if (entries.empty()) return;
        // By address, not by position in the list: the same set of servers
        // gives the same table whatever order DNS or the file lists them in.
        std::stable_sort(entries.begin(), entries.end(),
                         [](const entry& a, const entry& b) { return a.text < b.text; });
        out.table.assign(size_, empty_slot);
        std::uint32_t filled = 0;
        for (std::uint64_t round = 1; filled < size_; ++round) {
            for (entry& e : entries) {
                if (filled == size_) break;
                // A server of the largest weight takes a slot every round, one
                // of a third of it every third round.
                if (round * e.weight < e.target) continue;
                e.target += max_w;
                while (out.table[e.pos] != empty_slot)
                    if ((e.pos += e.skip) >= size_) e.pos -= size_;
                out.table[e.pos] = static_cast<T>(e.server);
                if ((e.pos += e.skip) >= size_) e.pos -= size_;
                ++filled;
            }
        }
    }

    std::uint32_t size_;       // M, prime
    std::size_t servers_;      // entries of cfg.servers
    // The factor in units of 1/fixed_one; 0 = off, else >= fixed_one.
    std::uint64_t bounded_load_ = 0;
    static constexpr std::uint64_t fixed_one = 1024;
    tier tiers_[2];            // primaries, backups
};

} // namespace

std::unique_ptr<balancer> make_maglev(const config::pool& cfg) {
    const std::uint32_t m = table_size(cfg.maglev.table_size, cfg.servers.size());
    // 16-bit slots halve the table (and its cache footprint) for any
    // realistic pool; ~0 is the empty-slot mark, so 65535 servers at most.
    if (cfg.servers.size() < 0xffff) return std::make_unique<maglev<std::uint16_t>>(cfg, m);
    return std::make_unique<maglev<std::uint32_t>>(cfg, m);
}

} // namespace ringway::core::balancing
