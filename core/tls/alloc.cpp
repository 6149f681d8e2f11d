#include "core/tls/alloc.hpp"

#include <openssl/crypto.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

// Under the sanitizers OpenSSL keeps malloc: they must see every allocation.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RINGWAY_TLS_PLAIN_MALLOC 1
#endif

namespace ringway::core::tls {

#ifndef RINGWAY_TLS_PLAIN_MALLOC
namespace {

// Size classes of 16 B .. 32 KiB (powers of two); a block carries its class
// in a 16-byte header (keeping 16-byte alignment). Larger blocks go to malloc.
constexpr unsigned classes = 12;          // 16 << 11 = 32 KiB
constexpr std::size_t header = 16;
constexpr unsigned big = 0xff;
constexpr std::size_t cached_bytes_max = 256 << 10; // per class per thread

struct free_block {
    free_block* next;
};

// Trivial, so it outlives the thread's C++ destructors: OpenSSL frees its
// per-thread state later (pthread key destructors), and those frees must
// still work. `guard` empties the cache at thread exit and marks it dead.
struct thread_cache {
    free_block* head[classes];
    std::size_t bytes[classes];
    bool guarded;
    bool dead;
};

thread_local thread_cache cache{};

struct cache_guard {
    ~cache_guard() {
        for (unsigned c = 0; c < classes; ++c) {
            for (free_block* b = cache.head[c]; b != nullptr;) {
                free_block* next = b->next;
                std::free(reinterpret_cast<char*>(b) - header);
                b = next;
            }
            cache.head[c] = nullptr;
        }
        cache.dead = true;
    }
};

thread_local cache_guard guard;

unsigned class_of(std::size_t n) noexcept {
    unsigned c = 0;
    std::size_t size = 16;
    while (size < n && c < classes) {
        size <<= 1;
        ++c;
    }
    return c < classes ? c : big;
}

std::size_t class_size(unsigned c) noexcept { return std::size_t(16) << c; }

void* take(std::size_t n, const char*, int) {
    unsigned c = cache.dead ? big : class_of(n);
    if (!cache.guarded) {
        cache.guarded = true;
        static_cast<void>(&guard); // constructed now: its destructor runs at thread exit
    }
    if (c != big) {
        if (free_block* b = cache.head[c]; b != nullptr) {
            cache.head[c] = b->next;
            cache.bytes[c] -= class_size(c);
            return b;
        }
        n = class_size(c);
    }
    auto* p = static_cast<unsigned char*>(std::malloc(n + header));
    if (p == nullptr) return nullptr;
    p[0] = static_cast<unsigned char>(c);
    std::memcpy(p + 8, &n, sizeof n);
    return p + header;
}

void give(void* ptr, const char*, int) {
    if (ptr == nullptr) return;
    auto* p = static_cast<unsigned char*>(ptr) - header;
    unsigned c = p[0];
    if (c != big && !cache.dead && cache.bytes[c] + class_size(c) <= cached_bytes_max) {
        auto* b = static_cast<free_block*>(ptr);
        b->next = cache.head[c];
        cache.head[c] = b;
        cache.bytes[c] += class_size(c);
        return;
    }
    std::free(p);
}

void* resize(void* ptr, std::size_t n, const char* file, int line) {
    if (ptr == nullptr) return take(n, file, line);
    if (n == 0) {
        give(ptr, file, line);
        return nullptr;
    }
    auto* p = static_cast<unsigned char*>(ptr) - header;
    std::size_t have = 0;
    std::memcpy(&have, p + 8, sizeof have);
    if (n <= have) return ptr;
    void* q = take(n, file, line);
    if (q == nullptr) return nullptr;
    std::memcpy(q, ptr, have);
    give(ptr, file, line);
    return q;
}

} // namespace

bool install_allocator() noexcept { return CRYPTO_set_mem_functions(take, resize, give) == 1; }
#else
bool install_allocator() noexcept { return false; }
#endif

} // namespace ringway::core::tls
