// TLS, the PROXY protocol and SNI routes: [listeners.tls], a listener's
// proxy_protocol and proxy_protocol_from, the [[listeners.routes]] of a tcp
// listener (matched on the ClientHello's server name, passed through), and a
// pool's [pools.NAME.tls] and proxy_protocol. Part of the loader
// (config/loader.cpp); the schema and the value readers are in
// config/loader_detail.hpp. The loader only checks that a file path is a
// non-empty string: the TLS layer (core/) opens and parses the files and
// reports OpenSSL's reasons. Like the rest of the loader, it reports a
// problem and keeps going, so that every problem of the file is reported at
// once.
#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/loader_detail.hpp"

namespace ringway::config::detail {
namespace {

using namespace std::chrono_literals;

constexpr duration min_ticket_rotation = 1min;
constexpr duration max_ticket_rotation = 7 * 24h;
constexpr duration min_handshake_timeout = 100ms;
constexpr duration max_handshake_timeout = 5min;
constexpr std::size_t max_alpn_length = 255; // RFC 7301 3.1

constexpr std::string_view version_names[] = {"1.2", "1.3"};
constexpr tls_version versions[] = {tls_version::tls1_2, tls_version::tls1_3};
constexpr std::string_view verify_names[] = {"none", "optional", "required"};
constexpr client_verify verifies[] = {client_verify::none, client_verify::optional,
                                      client_verify::required};
constexpr std::string_view proxy_version_names[] = {"v1", "v2"};
constexpr proxy_protocol_version proxy_versions[] = {proxy_protocol_version::v1,
                                                     proxy_protocol_version::v2};

constexpr std::string_view certificate_example =
    "{ cert = \"/etc/ringway/cert.pem\", key = \"/etc/ringway/key.pem\" }";
constexpr std::string_view sni_expected =
    "a server name such as \"db.example.com\" or a suffix such as \"*.example.com\"";
constexpr std::string_view network_expected =
    "a network such as \"10.0.0.0/8\" or \"::1/128\", or one address";

// A ':'-separated list of OpenSSL names (cipher lists and groups).
struct name_list {
    std::string_view key;
    std::string_view example;
};

constexpr name_list cipher_list = {
    "ciphers", "a TLS 1.2 OpenSSL cipher list such as "
               "\"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256\""};
constexpr name_list ciphersuite_list = {
    "ciphersuites",
    "TLS 1.3 cipher suites such as \"TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256\""};
constexpr name_list group_list = {"groups", "key exchange groups such as \"X25519:P-256\""};

// " (found KEY = VALUE on line N)" or " (found no KEY, and the default is VALUE)"
// for a boolean.
std::string found_flag(std::string_view key, const toml::value* v, bool value) {
    const std::string text = value ? "true" : "false";
    if (v != nullptr) {
        return " (found " + std::string(key) + " = " + text + " on line " +
               std::to_string(v->location().line()) + ")";
    }
    return " (found no " + std::string(key) + ", and the default is " + text + ")";
}

// ---------------------------------------------------------- shared values

std::optional<tls_version> read_tls_version(problems& out, const toml::value& v,
                                            std::string_view path) {
    if (v.is_floating() || v.is_integer()) {
        out.wrong_type(v, path, "a string such as \"1.2\" (a version is quoted)");
        return std::nullopt;
    }
    if (v.is_string() && (v.as_string().str == "1.0" || v.as_string().str == "1.1")) {
        out.at(v, path,
               "TLS 1.0 and 1.1 are not offered (RFC 8996 deprecates them)" +
                   found_expected(literal(v), "\"1.2\" or \"1.3\""));
        return std::nullopt;
    }
    const auto i = read_choice(out, v, path, "TLS version", version_names);
    return i ? std::optional(versions[*i]) : std::nullopt;
}

void read_name_list(problems& out, const toml::value& v, std::string_view path,
                    const name_list& list, std::string& target) {
    const auto s = read_string(out, v, path);
    if (!s) {
        return;
    }
    if (s->empty()) {
        out.at(v, path, "empty list" + found_expected("\"\"", list.example));
    } else if (const auto c = bad_char(*s)) {
        out.at(v, path,
               "contains " + std::string(*c) +
                   found_expected(literal(v), "names separated by ':' without spaces"));
    } else if (s->front() == ':' || s->back() == ':' || s->find("::") != std::string::npos) {
        out.at(v, path,
               "an empty name (\"::\", or ':' at an end)" +
                   found_expected(literal(v), "names separated by single ':'"));
    } else {
        target = *s;
    }
}

// min_version, ciphers, ciphersuites and groups of a tls table.
void read_tls_profile(problems& out, const toml::value& t, std::string_view path,
                      tls_version& min_version, std::string& ciphers, std::string& ciphersuites,
                      std::string& groups) {
    if (const auto* v = find(t, "min_version")) {
        if (auto version = read_tls_version(out, *v, join(path, "min_version"))) {
            min_version = *version;
        }
    }
    const std::pair<const name_list*, std::string*> lists[] = {
        {&cipher_list, &ciphers}, {&ciphersuite_list, &ciphersuites}, {&group_list, &groups}};
    for (const auto& [list, target] : lists) {
        if (const auto* v = find(t, list->key)) {
            read_name_list(out, *v, join(path, list->key), *list, *target);
        }
    }
}

// ALPN protocol names; "h2" is refused when `http` (an HTTP listener).
void read_alpn(problems& out, const toml::value& v, std::string_view path, bool http,
               std::vector<std::string>& target) {
    if (!v.is_array()) {
        out.wrong_type(v, path, "an array of protocol names such as [\"http/1.1\"]");
        return;
    }
    std::map<std::string, first_use> seen;
    const auto& items = v.as_array();
    for (std::size_t i = 0; i < items.size(); ++i) {
        const std::string p = element(path, i);
        const auto s = read_string(out, items[i], p);
        if (!s) {
            continue;
        }
        const bool printable = std::all_of(s->begin(), s->end(), [](char c) {
            return static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7f;
        });
        if (s->empty() || s->size() > max_alpn_length) {
            out.at(items[i], p,
                   std::string(s->empty() ? "empty protocol name" : "protocol name too long") +
                       found_expected(literal(items[i]), "a protocol name of 1..255 bytes such "
                                                         "as \"http/1.1\""));
        } else if (!printable) {
            out.at(items[i], p,
                   "contains a space, a control character or a non-ASCII byte" +
                       found_expected(literal(items[i]), "printable ASCII such as \"http/1.1\""));
        } else if (http && *s == "h2") {
            out.at(items[i], p,
                   "HTTP/2 is not supported yet by this version of ringway" +
                       found_expected(literal(items[i]), "\"http/1.1\""));
        } else if (const auto [it, fresh] =
                       seen.try_emplace(*s, first_use{p, items[i].location().line()});
                   !fresh) {
            out.at(items[i], p, already_used("duplicate protocol", items[i], it->second));
        } else {
            target.push_back(*s);
        }
    }
}

// Why `p` (lower-case) is not a server name pattern, or nullopt.
std::optional<std::string> sni_pattern_problem(std::string_view p) {
    if (p.empty()) {
        return "empty";
    }
    if (p == "*") {
        return "\"*\" alone matches every name: the listener's pool takes the connections no "
               "route takes";
    }
    if (p.find_first_of("[]:") != std::string_view::npos) {
        return "a port or an IPv6 address: a server name is a DNS name";
    }
    std::string_view name = p;
    if (name.substr(0, 2) == "*.") {
        name.remove_prefix(2);
    }
    if (name.find('*') != std::string_view::npos) {
        return "'*' is only allowed as the whole first label, as in \"*.example.com\"";
    }
    if (!name.empty() && name.find_first_not_of("0123456789.") == std::string_view::npos) {
        return "an IP address: a server name is a DNS name";
    }
    return host_name_problem(name);
}

// ---------------------------------------------------------- listener TLS

void read_certificate(problems& out, const toml::value& t, std::string_view path,
                      listener_tls& tls) {
    if (!t.is_table()) {
        out.wrong_type(t, path, "a table such as " + std::string(certificate_example));
        return;
    }
    check_keys(out, t, path, tls_certificate_keys, no_keys);
    std::optional<std::string> cert;
    std::optional<std::string> key;
    if (const auto* v = find(t, "cert")) {
        cert = read_path(out, *v, join(path, "cert"), "\"/etc/ringway/cert.pem\"");
    } else {
        out.at(t, join(path, "cert"),
               "missing required key (expected the path of a PEM certificate chain, leaf "
               "first)");
    }
    if (const auto* v = find(t, "key")) {
        key = read_path(out, *v, join(path, "key"), "\"/etc/ringway/key.pem\"");
    } else {
        out.at(t, join(path, "key"),
               "missing required key (expected the path of the certificate's PEM private key)");
    }
    if (cert && key) {
        tls.certificates.push_back(tls_certificate{std::move(*cert), std::move(*key)});
    }
}

void read_certificates(problems& out, const toml::value& t, std::string_view path,
                       listener_tls& tls) {
    const std::string p = join(path, "certificates");
    const auto* v = find(t, "certificates");
    if (v == nullptr) {
        out.at(t, p,
               "missing required key (expected an array of certificates such as [" +
                   std::string(certificate_example) + "])");
        return;
    }
    if (!v->is_array()) {
        out.wrong_type(*v, p,
                       "an array of certificates such as [" + std::string(certificate_example) +
                           "]");
        return;
    }
    const auto& items = v->as_array();
    if (items.empty()) {
        out.at(*v, p,
               "no certificate" +
                   found_expected("empty array", "at least one " + std::string(certificate_example)));
    }
    for (std::size_t i = 0; i < items.size(); ++i) {
        read_certificate(out, items[i], element(p, i), tls);
    }
}

// A header that carries the client certificate to the server: a token, or
// "" for none.
void read_client_header(problems& out, const toml::value& v, std::string_view path,
                        std::string_view example, std::string& target) {
    const auto s = read_string(out, v, path);
    if (!s) {
        return;
    }
    if (!s->empty() && !is_token(*s)) {
        out.at(v, path,
               "invalid header name" +
                   found_expected(literal(v), "a token such as " + std::string(example) +
                                                  " (letters, digits and !#$%&'*+-.^_`|~), or \"\" "
                                                  "for none"));
        return;
    }
    target = *s;
}

// client_ca, verify and the client certificate headers.
void read_client_auth(problems& out, const toml::value& t, std::string_view path,
                      std::optional<protocol_kind> protocol, const toml::value* protocol_v,
                      listener_tls& tls) {
    const auto* ca_v = find(t, "client_ca");
    if (ca_v != nullptr) {
        tls.client_ca = read_path(out, *ca_v, join(path, "client_ca"), "\"/etc/ringway/client-ca.pem\"")
                            .value_or("");
    }
    if (const auto* v = find(t, "verify")) {
        const std::string p = join(path, "verify");
        if (const auto i = read_choice(out, *v, p, "client verification", verify_names)) {
            tls.verify = verifies[*i];
            if (tls.verify != client_verify::none && ca_v == nullptr) {
                out.at(*v, p,
                       "needs client_ca, the CA certificates that client certificates must chain "
                       "to" +
                           found_expected(literal(*v) + " and no client_ca",
                                          "client_ca = \"PATH\" in this table, or verify = "
                                          "\"none\""));
            }
        }
    }
    if (protocol != protocol_kind::http) {
        for (const auto key : http_only_tls_keys) {
            if (const auto* v = find(t, key); v != nullptr && protocol) {
                out.at_key(*v, key, join(path, key),
                           "only for protocol = \"http\"" +
                               found_setting("protocol", protocol_v, "tcp"));
            }
        }
        return;
    }
    if (const auto* v = find(t, "client_subject_header")) {
        read_client_header(out, *v, join(path, "client_subject_header"), "\"X-Client-Subject\"",
                           tls.client_subject_header);
    }
    if (const auto* v = find(t, "client_fingerprint_header")) {
        const std::string p = join(path, "client_fingerprint_header");
        read_client_header(out, *v, p, "\"X-Client-Cert-Sha256\"", tls.client_fingerprint_header);
        if (!tls.client_fingerprint_header.empty() &&
            lowered(tls.client_fingerprint_header) == lowered(tls.client_subject_header)) {
            out.at(*v, p,
                   "the same header as client_subject_header (names are case-insensitive)" +
                       found_expected(literal(*v), "another name"));
            tls.client_fingerprint_header.clear();
        }
    }
}

void read_tls_table(problems& out, const toml::value& t, std::string_view path,
                    std::optional<protocol_kind> protocol, const toml::value* protocol_v,
                    listener_tls& tls) {
    check_keys(out, t, path, listener_tls_keys, no_keys);
    read_certificates(out, t, path, tls);
    if (const auto* v = find(t, "strict_sni")) {
        tls.strict_sni = read_bool(out, *v, join(path, "strict_sni")).value_or(false);
    }
    read_tls_profile(out, t, path, tls.min_version, tls.ciphers, tls.ciphersuites, tls.groups);
    if (const auto* v = find(t, "alpn")) {
        std::vector<std::string> alpn;
        read_alpn(out, *v, join(path, "alpn"), protocol == protocol_kind::http, alpn);
        tls.alpn = std::move(alpn);
    }
    if (const auto* v = find(t, "ticket_rotation")) {
        if (auto d = read_duration(out, *v, join(path, "ticket_rotation"), min_ticket_rotation,
                                   max_ticket_rotation)) {
            tls.ticket_rotation = *d;
        }
    }
    if (const auto* v = find(t, "ticket_keys")) {
        tls.ticket_keys =
            read_path(out, *v, join(path, "ticket_keys"), "\"/etc/ringway/tickets.key\"")
                .value_or("");
    }
    read_client_auth(out, t, path, protocol, protocol_v, tls);
    if (const auto* v = find(t, "handshake_timeout")) {
        if (auto d = read_duration(out, *v, join(path, "handshake_timeout"),
                                   min_handshake_timeout, max_handshake_timeout)) {
            tls.handshake_timeout = *d;
        }
    }
}

// ------------------------------------------------------- PROXY protocol

void read_networks(problems& out, const toml::value& v, std::string_view path,
                   std::vector<cidr>& target) {
    if (!v.is_array()) {
        out.wrong_type(v, path, "an array of networks such as [\"10.0.0.0/8\", \"::1/128\"]");
        return;
    }
    const auto& items = v.as_array();
    if (items.empty()) {
        out.at(v, path,
               "no network" + found_expected("empty array", "at least one network such as "
                                                            "\"10.0.0.0/8\" that may send the "
                                                            "header"));
    }
    for (std::size_t i = 0; i < items.size(); ++i) {
        const std::string p = element(path, i);
        const auto s = read_string(out, items[i], p);
        if (!s) {
            continue;
        }
        std::string why;
        auto c = parse_cidr(*s, &why);
        if (!c) {
            out.at(items[i], p,
                   "invalid network: " + why + found_expected(literal(items[i]), network_expected));
            continue;
        }
        target.push_back(std::move(*c));
    }
}

void read_proxy_protocol(problems& out, const toml::value& t, std::string_view path,
                         listener& l) {
    const auto* on_v = find(t, "proxy_protocol");
    bool on_ok = true;
    if (on_v != nullptr) {
        const auto on = read_bool(out, *on_v, join(path, "proxy_protocol"));
        on_ok = on.has_value();
        l.proxy_protocol = on.value_or(false);
    }
    const std::string p = join(path, "proxy_protocol_from");
    const auto* from_v = find(t, "proxy_protocol_from");
    if (from_v == nullptr) {
        if (l.proxy_protocol) {
            out.at(t, p,
                   "missing required key: with proxy_protocol = true, only these networks may "
                   "send the header (expected an array such as [\"10.0.0.0/8\", \"::1/128\"])");
        }
    } else if (on_ok && !l.proxy_protocol) {
        out.at_key(*from_v, "proxy_protocol_from", p,
                   "only with proxy_protocol = true" + found_flag("proxy_protocol", on_v, false));
    } else {
        read_networks(out, *from_v, p, l.proxy_protocol_from);
    }
}

// ------------------------------------------------------------ SNI routes

void read_sni_pattern(problems& out, const toml::value& v, std::string_view path,
                      std::vector<std::string>& target) {
    const auto s = read_string(out, v, path);
    if (!s) {
        return;
    }
    std::string p = lowered(*s);
    if (const auto why = sni_pattern_problem(p)) {
        out.at(v, path, "invalid server name: " + *why + found_expected(literal(v), sni_expected));
        return;
    }
    target.push_back(std::move(p));
}

// The routes of a tcp listener; refused beside [listeners.tls].
void read_tcp_routes(problems& out, const toml::value& t, std::string_view path,
                     const toml::value* tls_v, std::span<const std::string_view> pool_names,
                     listener& l) {
    const auto* v = find(t, "routes");
    if (v == nullptr) {
        return;
    }
    const std::string p = join(path, "routes");
    if (!read_routes(out, *v, p, protocol_kind::tcp, pool_names, l.routes)) {
        return;
    }
    if (tls_v != nullptr && tls_v->is_table() && !v->as_array().empty()) {
        out.at_key(*v, "routes", p,
                   "SNI routes pass TLS through; a listener that terminates TLS cannot also "
                   "route by SNI (found [listeners.tls] on line " +
                       std::to_string(tls_v->location().line()) +
                       ", expected routes or a tls table: remove one)");
    }
}

// ------------------------------------------------------------- pool TLS

void read_pool_sni(problems& out, const toml::value& v, std::string_view path,
                   std::string& target) {
    const auto s = read_string(out, v, path);
    if (!s) {
        return;
    }
    std::string name = lowered(*s);
    std::optional<std::string> why;
    if (name.empty()) {
        why = "empty (leave sni out to send none)";
    } else if (name.find('*') != std::string::npos) {
        why = "a wildcard: sni names one server";
    } else {
        why = sni_pattern_problem(name);
    }
    if (why) {
        out.at(v, path,
               "invalid server name: " + *why +
                   found_expected(literal(v), "a DNS name such as \"api.internal\""));
        return;
    }
    target = std::move(name);
}

void read_pool_tls_table(problems& out, const toml::value& t, std::string_view path,
                         pool_tls& tls) {
    check_keys(out, t, path, pool_tls_keys, no_keys);
    if (const auto* v = find(t, "sni")) {
        read_pool_sni(out, *v, join(path, "sni"), tls.sni);
    }
    if (const auto* v = find(t, "verify")) {
        tls.verify = read_bool(out, *v, join(path, "verify")).value_or(true);
    }
    if (const auto* v = find(t, "ca")) {
        tls.ca = read_path(out, *v, join(path, "ca"), "\"/etc/ringway/ca.pem\"").value_or("");
    }
    const auto* cert_v = find(t, "cert");
    const auto* key_v = find(t, "key");
    if (cert_v != nullptr) {
        tls.cert = read_path(out, *cert_v, join(path, "cert"), "\"/etc/ringway/client.pem\"")
                       .value_or("");
    }
    if (key_v != nullptr) {
        tls.key =
            read_path(out, *key_v, join(path, "key"), "\"/etc/ringway/client.key\"").value_or("");
    }
    if (cert_v != nullptr && key_v == nullptr) {
        out.at(t, join(path, "key"),
               "missing required key: cert (line " + std::to_string(cert_v->location().line()) +
                   ") needs its private key (expected the path of a PEM private key)");
    } else if (key_v != nullptr && cert_v == nullptr) {
        out.at(t, join(path, "cert"),
               "missing required key: key (line " + std::to_string(key_v->location().line()) +
                   ") needs its certificate (expected the path of a PEM certificate chain)");
    }
    if (const auto* v = find(t, "alpn")) {
        read_alpn(out, *v, join(path, "alpn"), false, tls.alpn);
    }
    read_tls_profile(out, t, path, tls.min_version, tls.ciphers, tls.ciphersuites, tls.groups);
}

} // namespace

std::optional<std::string> read_path(problems& out, const toml::value& v, std::string_view path,
                                     std::string_view example) {
    auto s = read_string(out, v, path);
    if (s && s->empty()) {
        out.at(v, path, "empty path" + found_expected("\"\"", "a file path such as " +
                                                                  std::string(example)));
        return std::nullopt;
    }
    return s;
}

void read_sni_route(problems& out, const toml::value& t, std::string_view path, route& r) {
    for (const auto key : http_route_keys) {
        if (const auto* v = find(t, key)) {
            out.at_key(*v, key, join(path, key),
                       "only on http listeners (a route of a tcp listener matches on sni alone)");
        }
    }
    const auto* v = find(t, "sni");
    if (v == nullptr) {
        return;
    }
    const std::string p = join(path, "sni");
    if (v->is_string()) {
        read_sni_pattern(out, *v, p, r.sni);
    } else if (v->is_array()) {
        const auto& items = v->as_array();
        if (items.empty()) {
            out.at(*v, p,
                   "no server name" +
                       found_expected("empty array", "at least one, or no sni key to take the "
                                                     "connections without one"));
        }
        for (std::size_t i = 0; i < items.size(); ++i) {
            read_sni_pattern(out, items[i], element(p, i), r.sni);
        }
    } else {
        out.wrong_type(*v, p, "a server name such as \"db.example.com\" or an array of them");
    }
}

void read_listener_tls(problems& out, const toml::value& t, std::string_view path,
                       std::optional<protocol_kind> protocol, const toml::value* protocol_v,
                       std::span<const std::string_view> pool_names, listener& l) {
    const auto* tls_v = find(t, "tls");
    if (tls_v != nullptr) {
        const std::string p = join(path, "tls");
        if (!tls_v->is_table()) {
            out.wrong_type(*tls_v, p,
                           "a table ([listeners.tls]) such as { certificates = [" +
                               std::string(certificate_example) + "] }");
        } else {
            listener_tls tls;
            read_tls_table(out, *tls_v, p, protocol, protocol_v, tls);
            l.tls = std::move(tls);
        }
    }
    read_proxy_protocol(out, t, path, l);
    if (protocol == protocol_kind::tcp) {
        read_tcp_routes(out, t, path, tls_v, pool_names, l);
    }
}

void read_pool_tls(problems& out, const toml::value& t, std::string_view path, pool& p) {
    if (const auto* v = find(t, "proxy_protocol")) {
        if (auto i = read_choice(out, *v, join(path, "proxy_protocol"), "PROXY protocol version",
                                 proxy_version_names)) {
            p.proxy_protocol = proxy_versions[*i];
        }
    }
    if (const auto* v = find(t, "tls")) {
        const std::string tp = join(path, "tls");
        if (!v->is_table()) {
            out.wrong_type(*v, tp, "a table ([pools.NAME.tls]) such as { sni = \"api.internal\" }");
        } else {
            pool_tls tls;
            read_pool_tls_table(out, *v, tp, tls);
            p.tls = std::move(tls);
        }
    }
}

void resolve_paths(root& r, const std::string& dir) {
    const auto resolve = [&](std::string& p) {
        if (!p.empty() && p.front() != '/') {
            p = (std::filesystem::path(dir) / p).string();
        }
    };
    for (auto& l : r.listeners) {
        if (!l.tls) {
            continue;
        }
        for (auto& c : l.tls->certificates) {
            resolve(c.cert);
            resolve(c.key);
        }
        resolve(l.tls->ticket_keys);
        resolve(l.tls->client_ca);
    }
    for (auto& [name, p] : r.pools) {
        if (p.tls) {
            resolve(p.tls->ca);
            resolve(p.tls->cert);
            resolve(p.tls->key);
        }
    }
}

} // namespace ringway::config::detail
