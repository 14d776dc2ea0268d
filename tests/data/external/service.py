#!/usr/bin/env python3
"""A team's own service, in a few lines, for cutover's external-service tests.

    service.py --port 8080 --version v2 [--on-sigterm graceful|immediate|ignore]
               [--latency-ms 5] [--drain-s 5]

GET /health answers 200 while serving (503 once shutting down); any other GET
answers 200 after --latency-ms with x-cutover-version and x-cutover-instance.
On SIGTERM:
  graceful   /health turns 503, stop accepting, finish requests in flight
             (at most --drain-s), exit 0
  immediate  exit at once (requests in flight are lost), code 0
  ignore     keep serving (the runner kills it after its grace period)
"""
import argparse
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

args = None
in_flight = 0
lock = threading.Lock()
stopping = threading.Event()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive

    def log_message(self, *a):  # quiet: stdout/stderr go to the run dir
        pass

    def reply(self, status, body):
        self.send_response(status)
        self.send_header("content-type", "text/plain")
        self.send_header("content-length", str(len(body)))
        self.send_header("x-cutover-version", args.version)
        self.send_header("x-cutover-instance", f"{args.version}-{args.port}")
        if stopping.is_set():
            self.send_header("connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        global in_flight
        if self.path == "/health":
            return self.reply(503 if stopping.is_set() else 200, b"ok\n")
        with lock:
            in_flight += 1
        try:
            time.sleep(args.latency_ms / 1000.0)
            self.reply(200, b"hello from " + args.version.encode() + b"\n")
        finally:
            with lock:
                in_flight -= 1


def main():
    global args
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--version", default="v1")
    p.add_argument("--on-sigterm", choices=["graceful", "immediate", "ignore"], default="graceful")
    p.add_argument("--latency-ms", type=float, default=5.0)
    p.add_argument("--drain-s", type=float, default=5.0)
    args = p.parse_args()

    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.request_queue_size = 1024
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)

    def on_sigterm(signum, frame):
        if args.on_sigterm == "immediate":
            os._exit(0)
        if args.on_sigterm == "ignore":
            print("SIGTERM ignored", flush=True)
            return
        print("SIGTERM: draining", flush=True)
        stopping.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_sigterm)
    print(f"listening on 127.0.0.1:{args.port} version {args.version}", flush=True)
    server.serve_forever(poll_interval=0.05)
    server.socket.close()  # no new connections from here on
    deadline = time.monotonic() + args.drain_s
    while time.monotonic() < deadline:  # bounded drain
        with lock:
            if in_flight == 0:
                break
        time.sleep(0.01)
    print(f"drained, in flight {in_flight}; exit 0", flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
