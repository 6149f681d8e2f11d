"""The proxies bench/compare runs: finding HAProxy, NGINX and wrk (installing them with
apt-get when asked), and each proxy's config.

Each *_config function returns a whole config file for one target, one backend server
and a workload mode ("tcp" or "http"); bench/compare writes it to its config directory
and starts the proxy on it. The settings that make the proxies comparable (no logging,
generous timeouts, workers = threads = worker processes, backend connection reuse in
HTTP mode) live here and are described in bench/README-perf.md. Used by bench/compare
only (installed beside it as share/ringway/compare/compare_proxies.py); standard library
only.
"""

import os
import re
import resource
import shutil
import signal
import subprocess
import sys

NGINX_MODULE_PATHS = (
    "/usr/lib/nginx/modules/ngx_stream_module.so",    # Debian, Ubuntu
    "/usr/lib64/nginx/modules/ngx_stream_module.so",  # Fedora, RHEL
    "/usr/share/nginx/modules/ngx_stream_module.so",
)


def _log(message):
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- tools

def find_tool(name):
    return shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None)


def nginx_stream_module(nginx):
    """Path of the dynamic stream module, "" when stream is built in, None when absent."""
    for path in NGINX_MODULE_PATHS:
        if os.path.exists(path):
            return path
    if nginx:
        r = subprocess.run([nginx, "-V"], capture_output=True, text=True, timeout=10)
        if re.search(r"--with-stream(\s|$)", r.stderr):
            return ""
    return None


def stop_system_services():
    """Package installs start haproxy/nginx services; we never use them."""
    if os.path.isdir("/run/systemd/system") and shutil.which("systemctl"):
        subprocess.run(["systemctl", "stop", "haproxy", "nginx"], capture_output=True)
        return
    for name, pidfile in (("haproxy", "/run/haproxy.pid"), ("nginx", "/run/nginx.pid")):
        if shutil.which("service"):
            subprocess.run(["service", name, "stop"], capture_output=True, timeout=30)
        try:
            with open(pidfile) as f:
                os.kill(int(f.read().split()[0]), signal.SIGTERM)
        except (OSError, ValueError, IndexError):
            pass


def ensure_tools(install):
    """Installs what is missing with apt-get when `install` and we are root. Returns the
    tool paths."""
    wanted = {"haproxy": "haproxy", "nginx": "nginx", "wrk": "wrk"}
    missing = [pkg for tool, pkg in wanted.items() if not find_tool(tool)]
    if find_tool("nginx") is None or nginx_stream_module(find_tool("nginx")) is None:
        missing.append("libnginx-mod-stream")
    if missing:
        if install and os.geteuid() == 0 and shutil.which("apt-get"):
            _log(f"installing {' '.join(missing)} with apt-get")
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            cmd = ["apt-get", "install", "-y", "--no-install-recommends"] + missing
            r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
            if r.returncode != 0:
                subprocess.run(["apt-get", "update"], env=env, capture_output=True, timeout=600)
                r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
            if r.returncode != 0:
                _log(f"apt-get failed:\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
            stop_system_services()
        else:
            why = "--no-install" if not install else "not root or no apt-get"
            _log(f"missing {' '.join(missing)} ({why}): those runs are skipped")
    nginx = find_tool("nginx")
    return {"haproxy": find_tool("haproxy"), "nginx": nginx, "wrk": find_tool("wrk"),
            "nginx_module": nginx_stream_module(nginx) if nginx else None,
            "gnuplot": find_tool("gnuplot")}


# ---------------------------------------------------------------- configs

def nofile_limit():
    """The hard RLIMIT_NOFILE (2**20 when unlimited): bounds maxconn and
    worker_connections."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return hard if hard != resource.RLIM_INFINITY else 1 << 20


def ringway_config(mode, workers, backend, io_engine=None, tls=None):
    """ringway's TOML: one listener with `protocol = mode` on a port the kernel picks
    (ringway logs it), one pool with the one server `backend` ("host:port"). In HTTP
    mode the pool keeps up to 64 idle backend connections per worker for reuse.
    io_engine ("auto", "io_uring" or "epoll"; None: the key is left out, ringway's
    default) sets `runtime.io_engine`. Mode "tls" is HTTP mode behind a TLS listener
    whose certificate and key are tls["cert"] and tls["key"] (absolute paths)."""
    terminate = mode == "tls"
    if terminate:
        mode = "http"
    keepalive = ('keepalive = { max_idle = 64, idle_timeout = "30s" }\n'
                 if mode == "http" else "")
    about = ("HTTP mode" if mode == "http" else "TCP mode")
    if terminate:
        about = "TLS termination, " + about
    if io_engine:
        about += f", {io_engine} I/O engine"
    reuse = ("# backend connections kept alive and reused per worker (pool keepalive)\n"
             if mode == "http" else "")
    engine = f'io_engine = "{io_engine}"\n' if io_engine else ""
    listener_tls = ""
    if terminate:
        t = tls or {"cert": "CERT", "key": "KEY"}
        listener_tls = (f'[listeners.tls]\ncertificates = [{{ cert = "{t["cert"]}", '
                        f'key = "{t["key"]}" }}]\n')
    return f"""# ringway: {about}, {workers} worker(s), one server, no access log
{reuse}[runtime]
workers = {workers}
{engine}
[[listeners]]
name = "bench"
listen = ["127.0.0.1:0"]
protocol = "{mode}"
pool = "bench"
{listener_tls}
[pools.bench]
balance = "round_robin"
servers = [ {{ address = "{backend}" }} ]
{keepalive}"""


def haproxy_config(mode, workers, port, backend, tls=None):
    """HAProxy's config: `mode tcp` or `mode http` (then `http-reuse always` and the
    X-Forwarded-For, -Proto and -Host fields ringway adds), `nbthread` = workers,
    listening on 127.0.0.1:port. Mode "tls": `mode http` behind `bind ... ssl crt
    tls["pem"]` (certificate and key in one file), TLS 1.2 or later, tickets on (the
    default)."""
    maxconn = max(1024, min(50000, (nofile_limit() - 200) // 2))
    terminate = mode == "tls"
    if terminate:
        mode = "http"
    http = mode == "http"
    about = ("HTTP mode, backend connections reused by any client (http-reuse always)"
             if http else "TCP mode")
    if terminate:
        about = "TLS termination, " + about
    timeouts = "    timeout http-keep-alive 60s\n" if http else ""
    # The X-Forwarded-* fields ringway always sets (core/http/rewrite.hpp), so that the
    # three HTTP proxies rewrite the same request head.
    reuse = ("    http-reuse always\n    option forwardfor\n"
             f"    http-request set-header X-Forwarded-Proto {'https' if terminate else 'http'}\n"
             "    http-request set-header X-Forwarded-Host %[req.hdr(host)]\n"
             if http else "")
    tls_global = "    ssl-default-bind-options ssl-min-ver TLSv1.2\n" if terminate else ""
    bind_ssl = f" ssl crt {(tls or {}).get('pem', 'PEM')}" if terminate else ""
    return f"""# haproxy: {about}, {workers} thread(s), one server, no logging
global
    nbthread {workers}
    maxconn {maxconn}
{tls_global}
defaults
    mode {mode}
    maxconn {maxconn}
    timeout connect 5s
    timeout client 60s
    timeout server 60s
{timeouts}
frontend bench
    bind 127.0.0.1:{port}{bind_ssl}
    default_backend bench

backend bench
{reuse}    server s1 {backend}
"""


def nginx_config(mode, workers, port, backend, module, tmp, tls=None):
    """NGINX's config: `stream` (tcp; `module` is the stream module to load, "" when built
    in) or `proxy_pass` to an upstream with keepalive (http; the client's Host and the
    X-Forwarded-For, -Proto and -Host fields ringway adds); `worker_processes` =
    workers; its pid, logs and temp files under `tmp`. Mode "tls": the http config
    behind `listen ... ssl` with tls["cert"] and tls["key"], TLS 1.2 and 1.3, session
    tickets on, no session cache (none, the default)."""
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
    ssl = ""
    about = "HTTP reverse proxy"
    if mode == "tls":
        t = tls or {"cert": "CERT", "key": "KEY"}
        ssl = (f"\n        ssl_certificate {t['cert']};\n        ssl_certificate_key {t['key']};"
               "\n        ssl_protocols TLSv1.2 TLSv1.3;\n        ssl_session_tickets on;"
               "\n        ssl_session_cache none;")
        about = "TLS termination, HTTP reverse proxy"
    # keepalive_requests: NGINX's default of 1000 would close client and backend
    # connections every 1000 requests, which HAProxy does not do; temp files off so a
    # 64 KiB answer never goes through the disk. Host and X-Forwarded-*: as ringway
    # forwards them (the client's Host; NGINX's default is the upstream's name).
    return f"""# nginx: {about}, {workers} worker process(es), one server, backend
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
        listen 127.0.0.1:{port}{" ssl" if ssl else ""}{reuseport};{ssl}
        location / {{
            proxy_pass http://bench;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $http_host;
            proxy_connect_timeout 5s;
            proxy_read_timeout 60s;
            proxy_max_temp_file_size 0;
        }}
    }}
}}
"""
