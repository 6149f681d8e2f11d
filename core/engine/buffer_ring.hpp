// A worker's receive buffers: a fixed set of equal buffers that receives
// fill. With io_uring they are a provided-buffer ring (kernel 5.19) the
// kernel picks from; with the epoll engine a free list the engine picks from
// (user mode). A filled buffer is owned by the session until its send
// completes; then it is handed back with recycle(). Buffers also carry a
// `next` link so a session can queue them without any allocation.
// Owned and used by one worker thread.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

namespace ringway::core {

constexpr std::uint16_t no_buffer = 0xffff;

class buffer_ring {
public:
    buffer_ring() = default;
    ~buffer_ring();
    buffer_ring(const buffer_ring&) = delete;
    buffer_ring& operator=(const buffer_ring&) = delete;

    // Unregisters and unmaps; before the ring is torn down. Idempotent.
    void release() noexcept;

    // Spare buffers: `n` more buffers of the same size, mapped with the
    // others but never given to the kernel, for bytes the worker produces
    // at the pace of receives (TLS: the plaintext of each record). Ids
    // count()..count()+n-1; recycled to their own free list. Before init.
    void set_spare(std::uint32_t n) noexcept { spare_ = n; }
    // A spare buffer, or no_buffer when every one is in use.
    std::uint16_t take_spare() noexcept {
        if (spare_free_.empty()) return no_buffer;
        std::uint16_t bid = spare_free_.back();
        spare_free_.pop_back();
        meta_[bid] = slot{};
        return bid;
    }
    std::uint32_t spare_free() const noexcept { return std::uint32_t(spare_free_.size()); }
    std::uint32_t spare_count() const noexcept { return spare_; }

    // Maps `count` (power of two, <= 32768) buffers of `size` bytes and
    // registers them as group `group` on `ring`. Returns 0 or -errno.
    int init(io_uring* ring, std::uint32_t count, std::uint32_t size, std::uint16_t group) noexcept;
    // The same buffers as a plain free list, for the epoll engine.
    int init_user(std::uint32_t count, std::uint32_t size) noexcept;
    // User mode: the engine takes a free buffer for a receive (no_buffer when
    // none is free); the completion's owner then calls taken() as with io_uring.
    std::uint16_t take_user() noexcept {
        if (user_free_.empty()) return no_buffer;
        std::uint16_t bid = user_free_.back();
        user_free_.pop_back();
        return bid;
    }
    // User mode: a buffer the engine took but did not fill goes back.
    void untake_user(std::uint16_t bid) noexcept { user_free_.push_back(bid); }

    char* data(std::uint16_t bid) noexcept {
        return bid < first_block_ ? base_ + std::size_t(bid) * size_
                                  : blocks_[bid - first_block_].data();
    }
    std::uint32_t size() const noexcept { return size_; }
    std::uint16_t group() const noexcept { return group_; }

    // The kernel handed buffer `bid` to us (a recv completion).
    void taken() noexcept { --free_; }
    // Gives a buffer back; visible to the kernel after publish(). A block
    // (below) goes back to the worker's free list instead.
    void recycle(std::uint16_t bid) noexcept;

    // Blocks: worker-owned heap memory that queues exactly like a ring
    // buffer (ids from count() up, linked through meta() too). For bytes the
    // worker writes itself — rewritten HTTP heads, the proxy's own responses,
    // bytes copied out of a buffer shared by two pipelined messages. A block
    // keeps its capacity when recycled, so a warm worker does not allocate.
    // Returns no_buffer when every id is in use. The block's text is empty.
    std::uint16_t take_block() noexcept;
    std::string& block(std::uint16_t bid) noexcept { return blocks_[bid - first_block_]; }
    bool is_block(std::uint16_t bid) const noexcept { return bid >= first_block_; }
    // Makes meta(bid).length match the block's text (after writing to it).
    void seal_block(std::uint16_t bid) noexcept {
        meta_[bid].length = std::uint32_t(blocks_[bid - first_block_].size());
        meta_[bid].offset = 0;
        meta_[bid].next = no_buffer;
    }
    // Makes every recycled buffer visible to the kernel at once (one store).
    void publish() noexcept;
    // Buffers the kernel may fill now, plus those recycled but not yet published.
    std::uint32_t free_count() const noexcept { return free_; }
    std::uint32_t count() const noexcept { return count_; }

    // Per-buffer queue metadata, used by sessions for their send queues.
    struct slot {
        std::uint32_t length = 0; // bytes of data in the buffer
        std::uint32_t offset = 0; // bytes already sent
        std::uint16_t next = no_buffer;
    };
    slot& meta(std::uint16_t bid) noexcept { return meta_[bid]; }

private:
    // The metadata of every buffer and the spare buffers' free list.
    int init_spare() noexcept;

    io_uring* ring_ = nullptr;
    io_uring_buf_ring* br_ = nullptr;
    char* base_ = nullptr;
    std::size_t ring_bytes_ = 0;
    std::uint32_t count_ = 0;
    std::uint32_t spare_ = 0;
    std::uint32_t first_block_ = 0;         // count_ + spare_
    std::uint32_t size_ = 0;
    std::uint32_t free_ = 0;
    int pending_ = 0;
    std::uint16_t group_ = 0;
    std::vector<slot> meta_;
    std::deque<std::string> blocks_;        // deque: growing never moves a block
    std::vector<std::uint16_t> free_blocks_;
    bool user_ = false;                     // init_user(): no kernel ring
    std::vector<std::uint16_t> user_free_;  // user mode's free list
    std::vector<std::uint16_t> spare_free_;
};

} // namespace ringway::core
