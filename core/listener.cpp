#include "core/listener.hpp"

#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace ringway::core {
namespace {

int open_one(const config::address& addr, std::uint32_t backlog, bool reuseport, std::string* err) {
    int fd = ::socket(addr.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *err = std::strerror(errno);
        return -1;
    }
    int one = 1;
    if (addr.family() != AF_UNIX) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (reuseport) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one); // 3.9
        // "[::]:443" and "0.0.0.0:443" may both be listed: keep v6 sockets v6-only.
        if (addr.family() == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    } else {
        // A socket file left by a previous run would make bind fail; a
        // non-socket file of that name is the user's and is left alone.
        const auto* un = reinterpret_cast<const sockaddr_un*>(&addr.storage);
        struct stat st{};
        if (un->sun_path[0] != '\0' && ::stat(un->sun_path, &st) == 0 && S_ISSOCK(st.st_mode))
            ::unlink(un->sun_path);
    }
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr.storage), addr.length) != 0 ||
        ::listen(fd, int(backlog)) != 0) {
        *err = errno == EADDRINUSE ? "address already in use" : std::strerror(errno);
        ::close(fd);
        return -1;
    }
    return fd;
}

} // namespace

bool open_listen_sockets(const config::root& cfg, unsigned workers,
                         std::vector<std::vector<listen_socket>>* per_worker,
                         std::vector<bound_address>* bound, std::string* why) {
    per_worker->assign(workers, {});
    bound->clear();
    auto fail = [&](std::size_t li, std::size_t ai, const config::address& a, const std::string& e) {
        *why = "listeners[" + std::to_string(li) + "].listen[" + std::to_string(ai) + "]: " +
               a.to_string() + ": " + e;
        for (auto& v : *per_worker)
            for (auto& l : v) ::close(l.fd);
        per_worker->assign(workers, {});
        return false;
    };
    for (std::size_t li = 0; li < cfg.listeners.size(); ++li) {
        const config::listener& l = cfg.listeners[li];
        for (std::size_t ai = 0; ai < l.listen.size(); ++ai) {
            config::address addr = l.listen[ai];
            std::string err;
            bool is_unix = addr.family() == AF_UNIX;
            for (unsigned w = 0; w < workers; ++w) {
                int fd;
                if (is_unix && w > 0) {
                    fd = ::fcntl(per_worker->at(0).back().fd, F_DUPFD_CLOEXEC, 0);
                    if (fd < 0) err = std::strerror(errno);
                } else {
                    fd = open_one(addr, l.backlog, true, &err);
                }
                if (fd < 0) return fail(li, ai, addr, err);
                if (w == 0 && !is_unix && addr.port() == 0) {
                    // Port 0: the first socket gets a port; the others join it.
                    sockaddr_storage ss{};
                    socklen_t len = sizeof ss;
                    getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
                    std::uint16_t port = ss.ss_family == AF_INET
                        ? ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port)
                        : ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
                    addr.set_port(port);
                }
                listen_socket s;
                s.fd = fd;
                s.listener = std::uint32_t(li);
                per_worker->at(w).push_back(s);
            }
            bound->push_back(bound_address{std::uint32_t(li), addr});
        }
    }
    return true;
}

} // namespace ringway::core
