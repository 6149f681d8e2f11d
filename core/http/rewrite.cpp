#include "core/http/rewrite.hpp"

#include <charconv>
#include <cstddef>

#include "proto/ascii.hpp"

// Everything is appended to the caller's string; no temporary strings. The
// order of the output is: start line, Host (only when added by us), the
// received fields that survive (in their order, names as received), the
// fields ringway adds (X-Forwarded-*, Via, Connection), the route's `set`
// fields, the final CRLF. The order of fields with different names carries no
// meaning (RFC 9110 5.3), so adding ours after theirs loses nothing.

namespace ringway::core {
namespace {

using proto::ascii_iequals;
using proto::http1::head_common;
using proto::http1::header_field;

constexpr std::size_t no_index = static_cast<std::size_t>(-1);

// Content-Length and Transfer-Encoding delimit the body the proxy forwards
// verbatim; the next hop must see them exactly as we parsed them, so neither
// a Connection token nor a route edit may remove or replace them.
bool is_framing(std::string_view name) noexcept {
    return ascii_iequals(name, "content-length") || ascii_iequals(name, "transfer-encoding");
}

// RFC 9110 7.6.1: the fixed hop-by-hop fields, plus every field the
// Connection header names. `keep_upgrade`: an upgrade being forwarded keeps
// its Upgrade field even though Connection names it.
bool hop_by_hop(std::string_view name, const head_common& h, bool keep_upgrade) noexcept {
    if (is_framing(name)) return false;
    if (ascii_iequals(name, "upgrade")) return !keep_upgrade;
    if (ascii_iequals(name, "connection") || ascii_iequals(name, "proxy-connection") ||
        ascii_iequals(name, "keep-alive") || ascii_iequals(name, "te"))
        return true;
    for (std::string_view token : h.connection_tokens)
        if (ascii_iequals(token, name)) return true;
    // The parser keeps "close" as a flag, not a token; it still names a field.
    return h.connection_close && ascii_iequals(name, "close");
}

// "1.0 ringway" / "1.1 ringway": the Via entry for a message received as
// HTTP/1.<minor> (RFC 9110 7.6.3: received-protocol is the version received).
std::string_view via_entry(std::uint8_t minor) noexcept {
    return minor == 0 ? std::string_view("1.0 ringway") : std::string_view("1.1 ringway");
}

// Appends fields, leaving out the names a route edit removes or sets; the
// `set` fields themselves are written by finish().
class field_writer {
public:
    field_writer(std::string& out, const config::header_edits* edits) noexcept
        : out_(out), edits_(edits != nullptr && !edits->empty() ? edits : nullptr) {}

    // False when the route's edits take fields of this name away.
    bool allowed(std::string_view name) const noexcept {
        if (edits_ == nullptr || is_framing(name)) return true;
        for (const std::string& r : edits_->remove)
            if (ascii_iequals(r, name)) return false;
        for (const auto& s : edits_->set)
            if (ascii_iequals(s.first, name)) return false;
        return true;
    }

    void field(std::string_view name, std::string_view value) {
        if (!allowed(name)) return;
        if (ascii_iequals(name, "content-length")) {
            // The parser accepted repeated or listed lengths only when they
            // were all equal (RFC 9110 8.6): one field with one value goes on.
            if (wrote_length_) return;
            wrote_length_ = true;
            value = value.substr(0, value.find(','));
            while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
                value.remove_suffix(1);
        }
        raw(name, value);
    }

    // An existing Via with our entry appended to it.
    void via_appended(std::string_view name, std::string_view value, std::string_view ours) {
        if (!allowed(name)) return;
        out_.append(name).append(": ").append(value);
        if (!value.empty()) out_.append(", ");
        out_.append(ours).append("\r\n");
    }

    // The route's `set` fields (each replaces every field of its name), then
    // the blank line that ends the head.
    void finish() {
        if (edits_ != nullptr)
            for (const auto& s : edits_->set)
                if (!is_framing(s.first)) raw(s.first, s.second);
        out_.append("\r\n");
    }

private:
    void raw(std::string_view name, std::string_view value) {
        out_.append(name).append(": ").append(value).append("\r\n");
    }

    std::string& out_;
    const config::header_edits* edits_;
    bool wrote_length_ = false;
};

// Which request fields need more than "forward as received".
enum class request_field : std::uint8_t { other, host, via, xff, xfp, xfh };

request_field classify(std::string_view name) noexcept {
    if (ascii_iequals(name, "host")) return request_field::host;
    if (ascii_iequals(name, "via")) return request_field::via;
    if (ascii_iequals(name, "x-forwarded-for")) return request_field::xff;
    if (ascii_iequals(name, "x-forwarded-proto")) return request_field::xfp;
    if (ascii_iequals(name, "x-forwarded-host")) return request_field::xfh;
    return request_field::other;
}

// Index of the last surviving Via field, or no_index.
std::size_t last_via(const head_common& h, bool keep_upgrade) noexcept {
    std::size_t last = no_index;
    for (std::size_t i = 0; i < h.headers.size(); ++i)
        if (ascii_iequals(h.headers[i].name, "via") &&
            !hop_by_hop(h.headers[i].name, h, keep_upgrade))
            last = i;
    return last;
}

} // namespace

void write_request(const proto::http1::request_head& h, const request_rewrite& rw,
                   std::string& out) {
    // An absolute-form target (a request meant for a proxy) is routed by its
    // authority (RFC 9112 3.2.2); as a gateway ringway forwards it in
    // origin-form with Host set to that authority, so the server sees the
    // host that was routed on, whatever Host the client also sent.
    const bool absolute_form = !h.target.empty() && h.target.front() != '/' &&
                               h.target != "*" && h.method != "CONNECT";
    out.append(h.method).append(" ");
    if (absolute_form) {
        out.append(h.path);
        if (!h.query.empty()) out.append("?").append(h.query);
    } else {
        out.append(h.target);
    }
    out.append(" HTTP/1.");
    out.push_back(static_cast<char>('0' + (h.version_minor == 0 ? 0 : 1)));
    out.append("\r\n");

    field_writer w(out, rw.edits);

    // What survives hop-by-hop removal decides what we add.
    bool has_host = false;
    bool has_xfp = false;
    bool has_xfh = false;
    for (const header_field& f : h.headers) {
        if (hop_by_hop(f.name, h, rw.upgrade)) continue;
        switch (classify(f.name)) {
        case request_field::host: has_host = !absolute_form; break;
        case request_field::xfp: has_xfp = true; break;
        case request_field::xfh: has_xfh = true; break;
        default: break;
        }
    }
    const std::size_t via_at = rw.via ? last_via(h, rw.upgrade) : no_index;
    const std::string_view ours = via_entry(h.version_minor);

    // HTTP/1.1 requires Host in every request (RFC 9112 3.2); an HTTP/1.0
    // client may have sent none.
    if (!has_host) w.field("Host", h.host);

    for (std::size_t i = 0; i < h.headers.size(); ++i) {
        const header_field& f = h.headers[i];
        if (hop_by_hop(f.name, h, rw.upgrade)) continue;
        switch (classify(f.name)) {
        case request_field::host:
            if (absolute_form) continue; // replaced by the target's authority above
            break;
        case request_field::xff: continue; // ours below (theirs folded in when trusted)
        case request_field::xfp:
        case request_field::xfh:
            if (!rw.trust_forwarded) continue;
            break;
        default: break;
        }
        if ((!rw.subject_field.empty() && ascii_iequals(f.name, rw.subject_field)) ||
            (!rw.fingerprint_field.empty() && ascii_iequals(f.name, rw.fingerprint_field)))
            continue; // only ringway says who the client's certificate names
        if (i == via_at)
            w.via_appended(f.name, f.value, ours);
        else
            w.field(f.name, f.value);
    }

    // X-Forwarded-For: a trusted chain is kept, every field of it folded into
    // one list in order, with the client's address last.
    if (w.allowed("X-Forwarded-For")) {
        out.append("X-Forwarded-For: ");
        if (rw.trust_forwarded) {
            for (const header_field& f : h.headers) {
                if (f.value.empty() || classify(f.name) != request_field::xff ||
                    hop_by_hop(f.name, h, rw.upgrade))
                    continue;
                out.append(f.value).append(", ");
            }
        }
        out.append(rw.client_ip).append("\r\n");
    }
    if (!(rw.trust_forwarded && has_xfp)) w.field("X-Forwarded-Proto", rw.scheme);
    if (!rw.subject_field.empty() && !rw.subject.empty()) w.field(rw.subject_field, rw.subject);
    if (!rw.fingerprint_field.empty() && !rw.fingerprint.empty())
        w.field(rw.fingerprint_field, rw.fingerprint);
    if (!(rw.trust_forwarded && has_xfh) && !h.host.empty()) w.field("X-Forwarded-Host", h.host);

    if (rw.via && via_at == no_index) w.field("Via", ours);

    // To the server an HTTP/1.1 request is persistent without saying so; a
    // request received as HTTP/1.0 is forwarded as 1.0, where persistence
    // must be asked for.
    if (rw.upgrade)
        w.field("Connection", "upgrade");
    else if (h.version_minor == 0)
        w.field("Connection", "keep-alive");

    w.finish();
}

void write_response(const proto::http1::response_head& h, const response_rewrite& rw,
                    std::string& out) {
    char status[8];
    auto conv = std::to_chars(status, status + sizeof status, h.status);
    out.append("HTTP/1.1 ")
        .append(status, static_cast<std::size_t>(conv.ptr - status))
        .append(" ")
        .append(h.reason)
        .append("\r\n");

    field_writer w(out, rw.edits);
    const std::size_t via_at = rw.via ? last_via(h, rw.upgrade) : no_index;
    const std::string_view ours = via_entry(h.version_minor);

    for (std::size_t i = 0; i < h.headers.size(); ++i) {
        const header_field& f = h.headers[i];
        if (hop_by_hop(f.name, h, rw.upgrade)) continue;
        if (i == via_at)
            w.via_appended(f.name, f.value, ours);
        else
            w.field(f.name, f.value);
    }

    if (rw.via && via_at == no_index) w.field("Via", ours);

    if (rw.close)
        w.field("Connection", "close");
    else if (rw.upgrade)
        w.field("Connection", "upgrade");
    else if (rw.client_http10)
        w.field("Connection", "keep-alive");

    w.finish();
}

} // namespace ringway::core
