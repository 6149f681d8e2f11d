#include "core/engine/uring.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

namespace ringway::core {
namespace {

bool disabled_by_env(std::string_view name) {
    const char* env = std::getenv("RINGWAY_DISABLE");
    if (env == nullptr) return false;
    std::string_view list(env);
    while (!list.empty()) {
        size_t comma = list.find(',');
        std::string_view item = list.substr(0, comma);
        if (item == name) return true;
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
    return false;
}

std::string read_small_file(const char* path) {
    FILE* f = std::fopen(path, "r");
    if (f == nullptr) return {};
    char buf[64] = {};
    size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    std::string s(buf, n);
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

std::string setup_failure_message(int err) {
    std::string msg = "io_uring is unavailable: io_uring_setup failed: ";
    msg += std::strerror(err);
    std::string disabled = read_small_file("/proc/sys/kernel/io_uring_disabled");
    if (err == EPERM || err == EACCES) {
        if (disabled == "2") {
            msg += ". Cause: the sysctl kernel.io_uring_disabled is 2 (io_uring off for "
                   "everyone). Fix: sysctl -w kernel.io_uring_disabled=0 (or 1 and run ringway "
                   "in the group named by kernel.io_uring_group)";
        } else if (disabled == "1") {
            msg += ". Cause: the sysctl kernel.io_uring_disabled is 1 and this process is not in "
                   "kernel.io_uring_group. Fix: add ringway's user to that group, or sysctl -w "
                   "kernel.io_uring_disabled=0";
        } else {
            msg += ". Cause: most likely a seccomp filter (Docker's and some container "
                   "runtimes' default profiles block io_uring_setup). Fix: allow the syscalls "
                   "io_uring_setup, io_uring_enter and io_uring_register in the profile (e.g. "
                   "docker run --security-opt seccomp=<profile allowing them>), or run outside "
                   "the sandbox";
        }
    } else if (err == ENOSYS) {
        msg += ". Cause: the kernel was built without io_uring (CONFIG_IO_URING) or a seccomp "
               "filter answers ENOSYS. Fix: a kernel with io_uring, 5.19 or newer";
    } else if (err == ENOMEM) {
        msg += ". Cause: on kernels before 5.12 rings are charged to RLIMIT_MEMLOCK. Fix: raise "
               "LimitMEMLOCK (systemd) or ulimit -l";
    }
    return msg;
}

// Submits a multishot recv on a socketpair and checks the kernel kept it armed.
bool probe_multishot_recv(io_uring* ring, io_uring_buf_ring* br, char* bufs) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return false;
    bool ok = false;
    io_uring_sqe* sqe = io_uring_get_sqe(ring);
    io_uring_prep_recv_multishot(sqe, sv[0], nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = 0;
    sqe->user_data = 1;
    io_uring_submit(ring);
    if (::write(sv[1], "x", 1) == 1) {
        io_uring_cqe* cqe = nullptr;
        if (io_uring_wait_cqe(ring, &cqe) == 0) {
            ok = cqe->res == 1 && (cqe->flags & IORING_CQE_F_MORE) != 0;
            io_uring_cqe_seen(ring, cqe);
        }
    }
    ::close(sv[1]);
    ::close(sv[0]);
    // Drain the terminating completion of the recv (EOF or error).
    io_uring_cqe* cqe = nullptr;
    __kernel_timespec ts{0, 200 * 1000 * 1000};
    while (io_uring_wait_cqe_timeout(ring, &cqe, &ts) == 0) io_uring_cqe_seen(ring, cqe);
    (void)br;
    (void)bufs;
    return ok;
}

} // namespace

bool probe_features(uring_features* out, std::string* why) {
    utsname u{};
    if (uname(&u) == 0) out->kernel = u.release;

    io_uring ring{};
    int rc = io_uring_queue_init(8, &ring, 0);
    if (rc < 0) {
        *why = setup_failure_message(-rc);
        return false;
    }
    out->ext_arg = (ring.features & IORING_FEAT_EXT_ARG) != 0;

    // Provided-buffer ring (5.19): the engine needs it.
    constexpr unsigned nbufs = 4;
    size_t ring_bytes = nbufs * sizeof(io_uring_buf);
    void* mem = mmap(nullptr, ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    static char bufs[nbufs][64];
    if (mem != MAP_FAILED) {
        auto* br = static_cast<io_uring_buf_ring*>(mem);
        io_uring_buf_ring_init(br);
        io_uring_buf_reg reg{};
        reg.ring_addr = reinterpret_cast<unsigned long>(br);
        reg.ring_entries = nbufs;
        reg.bgid = 0;
        if (io_uring_register_buf_ring(&ring, &reg, 0) == 0) {
            out->buf_ring = true;
            for (unsigned i = 0; i < nbufs; ++i)
                io_uring_buf_ring_add(br, bufs[i], sizeof bufs[i], i, io_uring_buf_ring_mask(nbufs), int(i));
            io_uring_buf_ring_advance(br, nbufs);
            // Multishot accept came with the same kernel as buffer rings (5.19).
            out->multishot_accept = !disabled_by_env("multishot_accept");
            out->multishot_recv = !disabled_by_env("multishot_recv") &&
                                  probe_multishot_recv(&ring, br, &bufs[0][0]);
            io_uring_unregister_buf_ring(&ring, 0);
        }
        munmap(mem, ring_bytes);
    }
    io_uring_queue_exit(&ring);

    if (!out->buf_ring) {
        *why = "io_uring provided-buffer rings are unavailable (kernel " + out->kernel +
               "): ringway needs Linux 5.19 or newer";
        return false;
    }

    // Set-up flags: try them on a throw-away ring.
    io_uring_params p{};
    p.flags = IORING_SETUP_SINGLE_ISSUER;
    if (!disabled_by_env("single_issuer") && io_uring_queue_init_params(8, &ring, &p) == 0) {
        out->single_issuer = true;
        io_uring_queue_exit(&ring);
        p = {};
        p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
        if (!disabled_by_env("defer_taskrun") && io_uring_queue_init_params(8, &ring, &p) == 0) {
            out->defer_taskrun = true;
            io_uring_queue_exit(&ring);
        }
    }
    return true;
}

uring::~uring() { close(); }

void uring::close() noexcept {
    if (ready_) io_uring_queue_exit(&ring_);
    ready_ = false;
}

int uring::init(unsigned entries, const uring_features& f) noexcept {
    io_uring_params p{};
    p.flags = IORING_SETUP_CQSIZE;
    p.cq_entries = entries * 8;
    if (f.single_issuer) p.flags |= IORING_SETUP_SINGLE_ISSUER;
    if (f.defer_taskrun) p.flags |= IORING_SETUP_DEFER_TASKRUN;
    else p.flags |= IORING_SETUP_COOP_TASKRUN; // 5.19; ignored flag bits fail below
    int rc = io_uring_queue_init_params(entries, &ring_, &p);
    if (rc == -EINVAL && (p.flags & IORING_SETUP_COOP_TASKRUN)) {
        p = {};
        p.flags = IORING_SETUP_CQSIZE;
        p.cq_entries = entries * 8;
        rc = io_uring_queue_init_params(entries, &ring_, &p);
    }
    if (rc == 0) ready_ = true;
    return rc;
}

io_uring_sqe* uring::sqe() noexcept {
    io_uring_sqe* s = io_uring_get_sqe(&ring_);
    while (s == nullptr) {
        io_uring_submit(&ring_);
        s = io_uring_get_sqe(&ring_);
    }
    return s;
}

int uring::submit_and_wait(unsigned wait_nr) noexcept {
    int rc = io_uring_submit_and_wait(&ring_, wait_nr);
    return rc;
}

} // namespace ringway::core
