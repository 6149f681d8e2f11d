#include "core/engine/buffer_ring.hpp"

#include <cerrno>
#include <sys/mman.h>

namespace ringway::core {

buffer_ring::~buffer_ring() { release(); }

void buffer_ring::release() noexcept {
    if (br_ != nullptr) {
        io_uring_unregister_buf_ring(ring_, group_);
        munmap(br_, ring_bytes_);
        br_ = nullptr;
    }
    if (base_ != nullptr) {
        munmap(base_, std::size_t(first_block_) * size_);
        base_ = nullptr;
    }
}

int buffer_ring::init(io_uring* ring, std::uint32_t count, std::uint32_t size,
                      std::uint16_t group) noexcept {
    if (count == 0 || (count & (count - 1)) != 0 || count > 32768) return -EINVAL;
    ring_ = ring;
    count_ = count;
    size_ = size;
    first_block_ = count + spare_;
    group_ = group;
    ring_bytes_ = count * sizeof(io_uring_buf);
    void* r = mmap(nullptr, ring_bytes_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (r == MAP_FAILED) return -errno;
    br_ = static_cast<io_uring_buf_ring*>(r);
    void* b = mmap(nullptr, std::size_t(first_block_) * size, PROT_READ | PROT_WRITE,
                   MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (b == MAP_FAILED) return -errno;
    base_ = static_cast<char*>(b);
    io_uring_buf_ring_init(br_);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<unsigned long>(br_);
    reg.ring_entries = count;
    reg.bgid = group;
    int rc = io_uring_register_buf_ring(ring, &reg, 0);
    if (rc < 0) {
        munmap(br_, ring_bytes_);
        br_ = nullptr;
        return rc;
    }
    if (init_spare() < 0) return -ENOMEM;
    for (std::uint32_t i = 0; i < count; ++i) recycle(std::uint16_t(i));
    publish();
    return 0;
}

int buffer_ring::init_user(std::uint32_t count, std::uint32_t size) noexcept {
    if (count == 0 || (count & (count - 1)) != 0 || count > 32768) return -EINVAL;
    count_ = count;
    size_ = size;
    user_ = true;
    first_block_ = count + spare_;
    void* b = mmap(nullptr, std::size_t(first_block_) * size, PROT_READ | PROT_WRITE,
                   MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (b == MAP_FAILED) return -errno;
    base_ = static_cast<char*>(b);
    try {
        user_free_.reserve(count);
    } catch (...) {
        return -ENOMEM;
    }
    if (init_spare() < 0) return -ENOMEM;
    // Lowest ids last: taken first, as the kernel ring hands them out.
    for (std::uint32_t i = count; i > 0; --i) recycle(std::uint16_t(i - 1));
    return 0;
}

int buffer_ring::init_spare() noexcept {
    try {
        meta_.assign(first_block_, slot{});
        spare_free_.reserve(spare_);
    } catch (...) {
        return -ENOMEM;
    }
    for (std::uint32_t i = first_block_; i > count_; --i) spare_free_.push_back(std::uint16_t(i - 1));
    return 0;
}

std::uint16_t buffer_ring::take_block() noexcept {
    if (free_blocks_.empty()) {
        std::size_t id = first_block_ + blocks_.size();
        if (id >= no_buffer) return no_buffer;
        try {
            blocks_.emplace_back();
            meta_.emplace_back();
            // Room for every block at once: recycle() never allocates.
            free_blocks_.reserve(blocks_.size());
        } catch (...) {
            return no_buffer;
        }
        free_blocks_.push_back(std::uint16_t(id));
    }
    std::uint16_t bid = free_blocks_.back();
    free_blocks_.pop_back();
    blocks_[bid - first_block_].clear();
    meta_[bid] = slot{};
    return bid;
}

void buffer_ring::recycle(std::uint16_t bid) noexcept {
    meta_[bid] = slot{};
    if (bid >= count_) {
        if (bid < first_block_) {
            spare_free_.push_back(bid);
            return;
        }
        std::string& b = blocks_[bid - first_block_];
        // Heads fit in a few KiB; a larger block (a slow reader's queue moved
        // out of the pool, a rare huge head) is not hoarded.
        if (b.capacity() > 8 * 1024) std::string().swap(b);
        free_blocks_.push_back(bid);
        return;
    }
    if (user_) {
        user_free_.push_back(bid);
        ++free_;
        return;
    }
    io_uring_buf_ring_add(br_, data(bid), size_, bid, io_uring_buf_ring_mask(count_), pending_);
    ++pending_;
    ++free_;
}

void buffer_ring::publish() noexcept {
    if (pending_ == 0 || user_) return;
    io_uring_buf_ring_advance(br_, pending_);
    pending_ = 0;
}

} // namespace ringway::core
