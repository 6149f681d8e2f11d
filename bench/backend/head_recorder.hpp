// --record-heads: appends every raw request head to a file as one JSON object per line,
// so tests can check exactly what a proxy forwarded. Shared by all workers.
#pragma once

#include <mutex>
#include <string>
#include <string_view>

namespace ringway::backend {

class head_recorder {
public:
    head_recorder() = default;
    ~head_recorder();
    head_recorder(const head_recorder&) = delete;
    head_recorder& operator=(const head_recorder&) = delete;

    // Opens (creates, appends to) `path`. Main thread, before the workers start. Returns
    // false with the reason in `error`.
    bool open(const std::string& path, std::string& error);
    // Appends `{"address":"127.0.0.1:8080","port":8080,"head":"GET / ..."}` and a newline
    // with one write(2) (no user-space buffering). The head is escaped byte for byte:
    // quotes, backslashes and bytes below 0x20 or from 0x7f up as \" \\ \r \n \t or \u00XX,
    // so decoding the JSON string as Latin-1 gives back the exact bytes. Any thread.
    void record(std::string_view address, unsigned port, std::string_view head) noexcept;

private:
    std::mutex mutex_;  // one line at a time; also guards line_
    std::string line_;
    int fd_ = -1;
};

}  // namespace ringway::backend
