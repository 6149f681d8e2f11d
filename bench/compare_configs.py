"""The proxy configurations of bench/compare: ringway, HAProxy and NGINX, one text each.

Each function returns a whole config file for one target, one backend server and a
workload mode ("tcp" or "http"); bench/compare writes it to its config directory and
starts the proxy on it. The settings that make the proxies comparable (no logging,
generous timeouts, workers = threads = worker processes, backend connection reuse in
HTTP mode) live here and are described in bench/README-perf.md. Used by bench/compare
only (installed beside it as share/ringway/compare/compare_configs.py); standard library
only.
"""

import resource


def nofile_limit():
    """The hard RLIMIT_NOFILE (2**20 when unlimited): bounds maxconn and
    worker_connections."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return hard if hard != resource.RLIM_INFINITY else 1 << 20


def ringway_config(workers, backend):
    """ringway's TOML: one TCP listener on a port the kernel picks (ringway logs it),
    one pool with the one server `backend` ("host:port")."""
    return f"""# ringway: TCP mode, {workers} worker(s), one server, no access log
[runtime]
workers = {workers}

[[listeners]]
name = "bench"
listen = ["127.0.0.1:0"]
protocol = "tcp"
pool = "bench"

[pools.bench]
balance = "round_robin"
servers = [ {{ address = "{backend}" }} ]
"""


def haproxy_config(mode, workers, port, backend):
    """HAProxy's config: `mode tcp` or `mode http` (then `http-reuse always`), `nbthread`
    = workers, listening on 127.0.0.1:port."""
    maxconn = max(1024, min(50000, (nofile_limit() - 200) // 2))
    http = mode == "http"
    about = ("HTTP mode, backend connections reused by any client (http-reuse always)"
             if http else "TCP mode")
    timeouts = "    timeout http-keep-alive 60s\n" if http else ""
    reuse = "    http-reuse always\n" if http else ""
    return f"""# haproxy: {about}, {workers} thread(s), one server, no logging
global
    nbthread {workers}
    maxconn {maxconn}

defaults
    mode {mode}
    maxconn {maxconn}
    timeout connect 5s
    timeout client 60s
    timeout server 60s
{timeouts}
frontend bench
    bind 127.0.0.1:{port}
    default_backend bench

backend bench
{reuse}    server s1 {backend}
"""


def nginx_config(mode, workers, port, backend, module, tmp):
    """NGINX's config: `stream` (tcp; `module` is the stream module to load, "" when built
    in) or `proxy_pass` to an upstream with keepalive (http); `worker_processes` =
    workers; its pid, logs and temp files under `tmp`."""
    connections = max(1024, min(65536, nofile_limit() - 200))
    reuseport = " reuseport" if workers > 1 else ""
    head = f"""daemon off;
master_process on;
worker_processes {workers};
worker_rlimit_nofile {connections};
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log error;

events {{
    worker_connections {connections};
}}
"""
    if mode == "tcp":
        load = f"load_module {module};\n" if module else ""
        return f"""# nginx: stream (TCP) mode, {workers} worker process(es), one server, no logging
{load}{head}
stream {{
    upstream bench {{
        server {backend};
    }}
    server {{
        listen 127.0.0.1:{port}{reuseport};
        proxy_pass bench;
        proxy_connect_timeout 5s;
        proxy_timeout 60s;
    }}
}}
"""
    # keepalive_requests: NGINX's default of 1000 would close client and backend
    # connections every 1000 requests, which HAProxy does not do; temp files off so a
    # 64 KiB answer never goes through the disk.
    return f"""# nginx: HTTP reverse proxy, {workers} worker process(es), one server, backend
# connections kept alive (upstream keepalive), no logging
{head}
http {{
    access_log off;
    keepalive_timeout 60s;
    keepalive_requests 1000000;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy_temp;
    fastcgi_temp_path {tmp}/fastcgi_temp;
    uwsgi_temp_path {tmp}/uwsgi_temp;
    scgi_temp_path {tmp}/scgi_temp;

    upstream bench {{
        server {backend};
        keepalive 64;
        keepalive_requests 1000000;
    }}
    server {{
        listen 127.0.0.1:{port}{reuseport};
        location / {{
            proxy_pass http://bench;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_connect_timeout 5s;
            proxy_read_timeout 60s;
            proxy_max_temp_file_size 0;
        }}
    }}
}}
"""
