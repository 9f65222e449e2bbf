#!/usr/bin/env python3
"""Writes seed inputs for virtio_blk_fuzz: well-formed requests of every type the fuzzer mutates.
Layout of an input: the Header of virtio_blk_fuzz.cc, then the bytes of guest RAM at 0x10000."""
import struct
import sys
from pathlib import Path

A = 0x10000
NEXT, WRITE, INDIRECT = 1, 2, 4
IN, OUT, FLUSH, GET_ID, DISCARD, WRITE_ZEROES = 0, 1, 4, 8, 11, 13
HDR, SEGS, STATUS, DATA = 0x400, 0x500, 0x580, 0x800


def seed(flags, requests, log2=3):
    """requests: list of (type, sector, data_len, data_writable, extra_readable_bytes)."""
    size = 1 << log2
    desc_off, avail_off, used_off = 0, 16 * size, 16 * size + 0x40
    hdr = struct.pack("<BBHHHHH", log2, flags, desc_off, avail_off, used_off, 0, 0)
    ram = bytearray(0x1000)
    d = 0
    heads = []
    for n, (typ, sector, data_len, writable, extra) in enumerate(requests):
        hgpa = A + HDR + 16 * n
        struct.pack_into("<IIQ", ram, HDR + 16 * n, typ, 0, sector)
        chain = [(hgpa, 16, 0)]
        if extra:
            ram[SEGS:SEGS + len(extra)] = extra
            chain.append((A + SEGS, len(extra), 0))
        if data_len:
            chain.append((A + DATA + 0x200 * n, data_len, WRITE if writable else 0))
        chain.append((A + STATUS + n, 1, WRITE))
        heads.append(d)
        for i, (addr, ln, fl) in enumerate(chain):
            nxt = d + 1 if i + 1 < len(chain) else 0
            struct.pack_into("<QIHH", ram, desc_off + 16 * d, addr, ln,
                             fl | (NEXT if i + 1 < len(chain) else 0), nxt)
            d += 1
    struct.pack_into("<HH", ram, avail_off, 0, len(heads))
    for i, h in enumerate(heads):
        struct.pack_into("<H", ram, avail_off + 4 + 2 * i, h)
    return hdr + bytes(ram)


def main(out):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    seg = struct.pack("<QII", 8, 16, 0)
    seg_unmap = struct.pack("<QII", 32, 8, 1)
    seeds = {
        "read": seed(3, [(IN, 4, 1024, True, b"")], log2=4),
        "write": seed(0, [(OUT, 2, 512, False, b"")], log2=4),
        "flush_getid": seed(1, [(FLUSH, 0, 0, False, b""), (GET_ID, 0, 20, True, b"")], log2=4),
        "discard": seed(0, [(DISCARD, 0, 0, False, seg)], log2=4),
        "write_zeroes": seed(0, [(WRITE_ZEROES, 0, 0, False, seg + seg_unmap)], log2=4),
        "read_only_write": seed(4, [(OUT, 0, 512, False, b"")], log2=4),
        "writethrough": seed(16, [(OUT, 100, 512, False, b""), (IN, 127, 512, True, b"")],
                             log2=4),
    }
    for name, data in seeds.items():
        (out / name).write_bytes(data)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "corpus" / "virtio_blk")
