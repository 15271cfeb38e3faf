#!/usr/bin/env python3
"""A small HTTP server (and plain HTTP proxy) that serves files in the npm
registry layout with injectable faults, for pgboot's integration tests.

    python3 faultserver.py --root DIR --port-file FILE --log FILE

Binds 127.0.0.1 on an ephemeral port and writes the port number to FILE once
it is listening. A request for

    /<mode>/<path under DIR>

serves DIR/<path> with the fault <mode>, so a registry URL for pgboot is
http://127.0.0.1:PORT/<mode>. Modes:

    ok          normal; honours "Range: bytes=N-" / "bytes=N-M" (206 + Content-Range)
    cut         the first request for a file announces the full Content-Length
                but the connection is closed after half of the body; later
                requests for that file are normal
    reset       like cut, but the connection is reset (RST) instead of closed
    wrong       normal headers, but some bytes of the body are flipped
    404         always 404
    500then200  the first two requests for a file get 500, later ones are normal
    drip        announces the full length, then sends one byte every
                --drip-interval-ms (default 250 ms) until the client goes away
                (bounded by --drip-max-s, default 120 s)
    norange     ignores Range: always 200 with the full body
    redirect    302 to /ok/<same path>
    slow        normal, but sleeps --slow-chunk-ms (default 6) per 64 KiB chunk
                (about 2 s for the 23 MB bundle)

Every mode honours Range unless it says otherwise. A request line with an
absolute URI (GET http://anyhost/<mode>/... as sent to a proxy) is served the
same way. Two JSON objects per request are appended to the log file: one with
"event": "begin" when it arrives, and one with "event": "end" when it is done,
holding method, target (as sent), path, proxy, mode, range, status, bytes
(body bytes sent), start and end times. The server prints nothing on stdout.

Stdlib only. Stops on SIGTERM / SIGINT, when its parent process exits, or
after --max-lifetime-s (default 900 s).
"""

import argparse
import json
import os
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHUNK = 64 * 1024
MODES = ("ok", "cut", "reset", "wrong", "404", "500then200", "drip", "norange", "redirect", "slow")


def flip(buf, offset):
    """Flip every byte whose absolute file offset is a multiple of 4096
    (deterministic, so a test can compute the digest of what was sent)."""
    b = bytearray(buf)
    first = (-offset) % 4096
    for i in range(first, len(b), 4096):
        b[i] ^= 0xFF
    return bytes(b)


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.counts = {}  # (mode, path) -> number of requests seen
        self.log_lock = threading.Lock()
        self.log = open(args.log, "a", encoding="utf-8")

    def next_count(self, key):
        with self.lock:
            n = self.counts.get(key, 0)
            self.counts[key] = n + 1
            return n

    def write_log(self, rec):
        line = json.dumps(rec, sort_keys=True)
        with self.log_lock:
            self.log.write(line + "\n")
            self.log.flush()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pgboot-faultserver/1"
    sys_version = ""

    # quiet: no access log on stderr
    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        self.handle_request(head=False)

    def do_HEAD(self):
        self.handle_request(head=True)

    # --- helpers -----------------------------------------------------------

    def handle_request(self, head):
        st = self.server.state
        target = self.path
        parts = urllib.parse.urlsplit(target)
        proxy = bool(parts.scheme)
        path = parts.path if proxy else target.split("?", 1)[0]
        self.rec = {
            "method": self.command,
            "target": target,
            "path": path,
            "proxy": proxy,
            "host": self.headers.get("Host"),
            "range": self.headers.get("Range"),
            "status": None,
            "bytes": 0,
            "start": time.time(),
        }
        # every response closes the connection: simplest for fault injection
        self.close_connection = True
        # a "begin" record first, so tests can wait for requests in flight
        st.write_log({"event": "begin", "method": self.command, "target": target, "start": self.rec["start"]})
        self.rec["event"] = "end"
        try:
            self.route(path, head)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, socket.timeout):
            self.rec["aborted"] = True
        finally:
            self.rec["end"] = time.time()
            st.write_log(self.rec)

    def simple(self, status, body=b"", extra=None):
        self.rec["status"] = status
        self.send_response(status)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)
            self.rec["bytes"] = len(body)

    def route(self, path, head):
        st = self.server.state
        segs = path.lstrip("/").split("/", 1)
        mode = segs[0]
        self.rec["mode"] = mode
        if mode not in MODES or len(segs) < 2 or not segs[1]:
            self.simple(400, b"unknown fault mode or empty path\n")
            return
        rel = urllib.parse.unquote(segs[1])
        root = os.path.realpath(st.args.root)
        fpath = os.path.realpath(os.path.join(root, rel))
        if fpath != root and not fpath.startswith(root + os.sep):
            self.simple(403, b"outside root\n")
            return
        key = (mode, rel)
        n = st.next_count(key)

        if mode == "404":
            self.simple(404, b"not found (fault mode 404)\n")
            return
        if mode == "redirect":
            host = self.headers.get("Host") or "127.0.0.1:%d" % self.server.server_address[1]
            loc = "http://%s/ok/%s" % (host, segs[1])
            self.simple(302, b"moved\n", {"Location": loc})
            return
        if mode == "500then200" and n < 2:
            self.simple(500, b"internal error (fault mode 500then200)\n")
            return
        if not os.path.isfile(fpath):
            self.simple(404, b"not found\n")
            return

        size = os.path.getsize(fpath)
        start, end = 0, size - 1  # inclusive
        status = 200
        rng = self.headers.get("Range")
        if rng and mode != "norange":
            parsed = parse_range(rng, size)
            if parsed == "unsatisfiable":
                self.simple(416, b"", {"Content-Range": "bytes */%d" % size})
                return
            if parsed is not None:
                start, end = parsed
                status = 206
        length = end - start + 1 if size else 0

        self.rec["status"] = status
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "none" if mode == "norange" else "bytes")
        if status == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
        self.send_header("Connection", "close")
        self.end_headers()
        if head:
            return

        limit = length
        if mode in ("cut", "reset") and n == 0:
            limit = length // 2
            self.rec["cut_at"] = limit
        with open(fpath, "rb") as f:
            f.seek(start)
            if mode == "drip":
                self.drip(f, length)
                return
            sent = 0
            while sent < limit:
                buf = f.read(min(CHUNK, limit - sent))
                if not buf:
                    break
                if mode == "wrong":
                    buf = flip(buf, start + sent)
                self.wfile.write(buf)
                sent += len(buf)
                self.rec["bytes"] = sent
                if mode == "slow":
                    time.sleep(st.args.slow_chunk_ms / 1000.0)
        self.wfile.flush()
        if mode == "reset" and n == 0:
            # SO_LINGER with a zero timeout: close() sends RST
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            return
        if mode == "cut" and n == 0:
            # close abruptly: the client has been promised more than it got
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def drip(self, f, length):
        st = self.server.state
        deadline = time.time() + st.args.drip_max_s
        sent = 0
        while sent < length and time.time() < deadline:
            b = f.read(1)
            if not b:
                break
            self.wfile.write(b)
            self.wfile.flush()
            sent += 1
            self.rec["bytes"] = sent
            time.sleep(st.args.drip_interval_ms / 1000.0)
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def parse_range(value, size):
    """'bytes=N-' or 'bytes=N-M' -> (start, end) inclusive; None to ignore;
    'unsatisfiable' for a start at or past the end."""
    value = value.strip()
    if not value.startswith("bytes=") or "," in value:
        return None
    spec = value[len("bytes="):].strip()
    if "-" not in spec:
        return None
    a, b = spec.split("-", 1)
    try:
        if a == "":  # suffix range: last b bytes
            n = int(b)
            if n <= 0:
                return "unsatisfiable"
            return (max(0, size - n), size - 1)
        start = int(a)
        end = int(b) if b else size - 1
    except ValueError:
        return None
    if start >= size:
        return "unsatisfiable"
    return (start, min(end, size - 1))


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # quiet: a client hanging up on a fault is expected
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", required=True, help="directory served, in the npm layout")
    ap.add_argument("--port-file", required=True, help="the port is written here once listening")
    ap.add_argument("--log", required=True, help="one JSON line per request is appended here")
    ap.add_argument("--slow-chunk-ms", type=float, default=6.0)
    ap.add_argument("--drip-interval-ms", type=float, default=250.0)
    ap.add_argument("--drip-max-s", type=float, default=120.0)
    ap.add_argument("--max-lifetime-s", type=float, default=900.0,
                    help="exit after this long in any case (default 900)")
    args = ap.parse_args()

    httpd = Server(("127.0.0.1", 0), Handler)
    httpd.state = State(args)
    port = httpd.server_address[1]
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.replace(tmp, args.port_file)

    def stop(signum, frame):
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    # Stop by ourselves: when the test that started us is gone (killed by a
    # CTest timeout, say) or after --max-lifetime-s, whichever comes first.
    parent = os.getppid()
    deadline = time.time() + args.max_lifetime_s

    def watchdog():
        while True:
            time.sleep(0.5)
            if os.getppid() != parent or time.time() > deadline:
                httpd.shutdown()
                return

    threading.Thread(target=watchdog, daemon=True).start()
    try:
        httpd.serve_forever(poll_interval=0.1)
    finally:
        httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
