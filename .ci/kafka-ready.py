#!/usr/bin/env python3
"""Waits until a Kafka-protocol broker answers a Metadata request.

usage: kafka-ready.py HOST:PORT [TIMEOUT_SECONDS] [BROKERS]
Exits 0 once a Metadata response lists at least BROKERS brokers (default 1), 1 on timeout.
Metadata v4: Kafka 4 no longer serves v0-v3 (KIP-896); tansu serves v4 too.
"""
import socket
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


def brokers_listed(host, port, correlation_id):
    """How many brokers the broker's Metadata answer lists; 0 if it did not answer."""
    with socket.create_connection((host, port), timeout=2) as s:
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


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 30
    want = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    deadline = time.time() + timeout
    attempt = 0
    while time.time() < deadline:
        attempt += 1
        try:
            listed = brokers_listed(host, int(port), attempt)
            if listed >= want:
                print(f"broker {host}:{port} answered a metadata request listing {listed} "
                      f"broker(s) (attempt {attempt})")
                return 0
        except OSError:
            pass
        time.sleep(0.2)
    print(f"broker {host}:{port} did not list {want} broker(s) within {timeout}s", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
