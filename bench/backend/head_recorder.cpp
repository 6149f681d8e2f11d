#include "bench/backend/head_recorder.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ringway::backend {

head_recorder::~head_recorder() {
    if (fd_ >= 0) {
        ::close(fd_);
    }
}

bool head_recorder::open(const std::string& path, std::string& error) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) {
        error = std::string(std::strerror(errno));
        return false;
    }
    return true;
}

void head_recorder::record(std::string_view address, unsigned port,
                           std::string_view head) noexcept {
    static constexpr char hex[] = "0123456789abcdef";
    std::lock_guard lock(mutex_);
    try {
        line_.clear();
        line_ += "{\"address\":\"";
        line_ += address;  // digits, dots, colons and brackets: nothing to escape
        line_ += "\",\"port\":";
        line_ += std::to_string(port);
        line_ += ",\"head\":\"";
        for (char ch : head) {
            auto c = static_cast<unsigned char>(ch);
            switch (c) {
            case '"':
                line_ += "\\\"";
                break;
            case '\\':
                line_ += "\\\\";
                break;
            case '\r':
                line_ += "\\r";
                break;
            case '\n':
                line_ += "\\n";
                break;
            case '\t':
                line_ += "\\t";
                break;
            default:
                if (c < 0x20 || c >= 0x7f) {
                    line_ += "\\u00";
                    line_ += hex[c >> 4];
                    line_ += hex[c & 15];
                } else {
                    line_ += char(c);
                }
            }
        }
        line_ += "\"}\n";
    } catch (...) {
        return;  // out of memory: this head goes unrecorded
    }
    std::size_t off = 0;
    while (off < line_.size()) {
        ssize_t n = ::write(fd_, line_.data() + off, line_.size() - off);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return;
        }
        off += std::size_t(n);
    }
}

}  // namespace ringway::backend
