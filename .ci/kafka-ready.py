#!/usr/bin/env python3
"""Waits until a Kafka-protocol broker answers a Metadata request.

usage: kafka-ready.py HOST:PORT [TIMEOUT_SECONDS] [BROKERS] [--tls CA_PEM [CERT_PEM KEY_PEM]]
                      [--pid PID]
Exits 0 once a Metadata response lists at least BROKERS brokers (default 1), 1 on timeout,
or at once when process PID (the broker's JVM) is gone.
Metadata v4: Kafka 4 no longer serves v0-v3 (KIP-896); tansu serves v4 too.
--tls: over TLS, the broker's certificate checked against CA_PEM and HOST; CERT_PEM and
KEY_PEM are the client certificate of a listener with ssl.client.auth=required. Brokers are
listed to any authenticated client: Metadata needs no ACL for them.
"""
import os
import socket
import ssl
import struct
import sys
import time


def metadata_request(correlation_id):
    client_id = b"gig-ci"
    # api_key=3 (Metadata), api_version=4, correlation id, client id;
    # topics=null (all), allow_auto_topic_creation=false
    body = struct.pack(">hhih", 3, 4, correlation_id, len(client_id)) + client_id
    body += struct.pack(">ib", -1, 0)
    return struct.pack(">i", len(body)) + body


def read_exactly(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def connect(host, port, tls):
    s = socket.create_connection((host, port), timeout=2)
    return tls.wrap_socket(s, server_hostname=host) if tls else s


def brokers_listed(host, port, correlation_id, tls):
    """How many brokers the broker's Metadata answer lists; 0 if it did not answer."""
    with connect(host, port, tls) as s:
        s.sendall(metadata_request(correlation_id))
        head = read_exactly(s, 4)
        if head is None:
            return 0
        (size,) = struct.unpack(">i", head)
        body = read_exactly(s, size)
        if body is None or len(body) < 12:
            return 0
        got, _throttle, count = struct.unpack(">iii", body[:12])
        return count if got == correlation_id else 0


def tls_context(files):
    context = ssl.create_default_context(cafile=files[0])
    if len(files) > 1:
        context.load_cert_chain(files[1], files[2])
    return context


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def main():
    args, tls, pid = sys.argv[1:], None, None
    if "--pid" in args:
        at = args.index("--pid")
        pid = int(args[at + 1])
        del args[at:at + 2]
    if "--tls" in args:
        at = args.index("--tls")
        args, tls = args[:at], tls_context(args[at + 1:])
    host, port = args[0].rsplit(":", 1)
    timeout = float(args[1]) if len(args) > 1 else 30
    want = int(args[2]) if len(args) > 2 else 1
    deadline = time.time() + timeout
    attempt = 0
    error = "no answer"
    while time.time() < deadline:
        if pid is not None and not alive(pid):
            print(f"broker {host}:{port}: its process {pid} ended ({attempt} attempts; the "
                  f"last: {error})", file=sys.stderr)
            return 1
        attempt += 1
        try:
            listed = brokers_listed(host, int(port), attempt, tls)
            if listed >= want:
                print(f"broker {host}:{port} answered a metadata request listing {listed} "
                      f"broker(s) (attempt {attempt})")
                return 0
            error = f"{listed} broker(s) listed"
        except OSError as e:
            error = str(e)
        time.sleep(0.2)
    print(f"broker {host}:{port} did not list {want} broker(s) within {timeout}s "
          f"({attempt} attempts; the last: {error})", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
