#!/usr/bin/env python3
"""Waits until a Kafka-protocol broker answers a Metadata request.

usage: kafka-ready.py HOST:PORT [TIMEOUT_SECONDS]
Exits 0 once a Metadata (v0, all topics) response arrives, 1 on timeout.
"""
import socket
import struct
import sys
import time


def metadata_request(correlation_id):
    client_id = b"gig-ci"
    # api_key=3 (Metadata), api_version=0, correlation id, client id, topics=[] (all)
    body = struct.pack(">hhih", 3, 0, correlation_id, len(client_id)) + client_id
    body += struct.pack(">i", 0)
    return struct.pack(">i", len(body)) + body


def answers(host, port, correlation_id):
    with socket.create_connection((host, port), timeout=2) as s:
        s.sendall(metadata_request(correlation_id))
        header = s.recv(8)
        if len(header) < 8:
            return False
        _size, got = struct.unpack(">ii", header)
        return got == correlation_id


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 30
    deadline = time.time() + timeout
    attempt = 0
    while time.time() < deadline:
        attempt += 1
        try:
            if answers(host, int(port), attempt):
                print(f"broker {host}:{port} answered a metadata request (attempt {attempt})")
                return 0
        except OSError:
            pass
        time.sleep(0.2)
    print(f"broker {host}:{port} did not answer within {timeout}s", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
