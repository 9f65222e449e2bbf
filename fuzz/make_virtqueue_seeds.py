#!/usr/bin/env python3
"""Writes seed inputs for virtqueue_fuzz: well-formed rings the fuzzer mutates from.
Layout of an input: the Header of virtqueue_fuzz.cc, then the bytes of guest RAM at 0x10000."""
import struct
import sys
from pathlib import Path

A = 0x10000
NEXT, WRITE, INDIRECT = 1, 2, 4


def seed(log2, flags, descs, heads, extra=b"", used_idx=0, last_avail=0):
    size = 1 << log2
    desc_off, avail_off, used_off = 0, 16 * size, 16 * size + 0x40
    hdr = struct.pack("<BBHHHHHI", log2, flags, desc_off, avail_off, used_off, last_avail,
                      used_idx, 8)
    ram = bytearray(0x400)
    for i, (addr, ln, fl, nx) in enumerate(descs):
        struct.pack_into("<QIHH", ram, desc_off + 16 * i, addr, ln, fl, nx)
    struct.pack_into("<HH", ram, avail_off, 0, (last_avail + len(heads)) & 0xffff)
    for i, h in enumerate(heads):
        struct.pack_into("<H", ram, avail_off + 4 + 2 * ((last_avail + i) % size), h)
    ram[0x300:0x300 + len(extra)] = extra
    return hdr + bytes(ram)


def main(out):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = b"".join(struct.pack("<QIHH", A + 0x2000 + 64 * i, 64, WRITE | NEXT, i + 1)
                     for i in range(3)) + struct.pack("<QIHH", A + 0x3000, 32, WRITE, 0)
    seeds = {
        "simple": seed(3, 3, [(A + 0x1000, 64, WRITE, 0)], [0]),
        "chain": seed(3, 1, [(A + 0x1000, 16, NEXT, 1), (A + 0x1100, 32, WRITE | NEXT, 2),
                             (0x1fff0, 0x20, WRITE, 0)], [0, 0]),
        "indirect": seed(2, 2, [(A + 0x300, len(table), INDIRECT, 0)], [0], extra=table),
        "wrap": seed(1, 1, [(A + 0x1000, 8, WRITE, 0), (A + 0x1008, 8, 0, 0)], [0, 1],
                     used_idx=0xffff, last_avail=0xffff),
    }
    for name, data in seeds.items():
        (out / name).write_bytes(data)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "corpus" / "virtqueue")
