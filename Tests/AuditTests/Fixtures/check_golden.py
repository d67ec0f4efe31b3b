"""Independent check of golden-audit.jsonl (Python standard library only).

Run: python3 Tests/AuditTests/Fixtures/check_golden.py
Checks: seq numbering, each prev = SHA-256 of the previous line, each mac = HMAC-SHA256 of the bytes
before ',"mac":"' under HKDF-SHA256(master = 32 x 0x11, salt = empty, info = "enclave/audit/mac/v1"),
and each origin = "hmac:" + first 16 bytes of HMAC-SHA256(origin) under
HKDF-SHA256(mac key, info = "enclave/audit/pseudonym/v1").
"""
import hashlib
import hmac
import json
import os
import sys

ORIGINS = ["192.0.2.10", "192.0.2.10", "192.0.2.10", "198.51.100.7", "192.0.2.11"]


def hkdf(ikm, info, length=32):
    prk = hmac.new(b"\0" * 32, ikm, hashlib.sha256).digest()  # RFC 5869: empty salt = HashLen zeros
    okm, block, counter = b"", b"", 1
    while len(okm) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
        counter += 1
    return okm[:length]


def main():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden-audit.jsonl")
    lines = open(path, "rb").read().split(b"\n")
    assert lines[-1] == b"", "file must end with LF"
    lines = lines[:-1]
    mac_key = hkdf(bytes([0x11] * 32), b"enclave/audit/mac/v1")
    pseudonym_key = hkdf(mac_key, b"enclave/audit/pseudonym/v1")
    prev = "0" * 64
    for number, line in enumerate(lines, 1):
        record = json.loads(line)
        assert record["seq"] == number, number
        assert record["prev"] == prev, number
        body = line[: line.rindex(b',"mac":"')]
        assert hmac.new(mac_key, body, hashlib.sha256).hexdigest() == record["mac"], number
        origin = "hmac:" + hmac.new(pseudonym_key, ORIGINS[number - 1].encode(), hashlib.sha256).digest()[:16].hex()
        assert record["origin"] == origin, number
        prev = hashlib.sha256(line).hexdigest()
    print("golden-audit.jsonl: %d records verified" % len(lines))


if __name__ == "__main__":
    sys.exit(main())
