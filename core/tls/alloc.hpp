// OpenSSL's allocations on a per-thread cache of size classes (16 B to
// 32 KiB): a handshake allocates and frees a few hundred small objects, and
// each worker reuses its own blocks without glibc's arena bookkeeping. Up to
// 256 KiB per class (3 MiB in all) stays cached per thread; the rest goes
// back to malloc. Measured: -4 to -6% CPU per full handshake (README).
#pragma once

namespace ringway::core::tls {

// Installs the allocator (CRYPTO_set_mem_functions): before OpenSSL's first
// allocation, i.e. first thing in main(). False when it was too late. The
// daemon calls it (unless RINGWAY_PLAIN_MALLOC is set, for comparisons); a
// program embedding ringway decides for itself. Not under the sanitizers.
bool install_allocator() noexcept;

} // namespace ringway::core::tls
