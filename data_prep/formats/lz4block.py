"""Raw LZ4 block decompression (no frame header), for WeChat's CompressContent column."""
from __future__ import annotations


def decode_block(src: bytes, limit: int = 1 << 24) -> bytes:
    """Decompress one LZ4 block. Raises ValueError on corrupt data or output beyond ``limit`` bytes."""
    dst = bytearray()
    i, n = 0, len(src)
    try:
        while i < n:
            token = src[i]
            i += 1
            lit = token >> 4
            if lit == 15:
                while True:
                    b = src[i]
                    i += 1
                    lit += b
                    if b != 255:
                        break
            dst += src[i:i + lit]
            i += lit
            if i >= n:
                break
            off = src[i] | (src[i + 1] << 8)
            i += 2
            mlen = (token & 15) + 4
            if token & 15 == 15:
                while True:
                    b = src[i]
                    i += 1
                    mlen += b
                    if b != 255:
                        break
            start = len(dst) - off
            if off == 0 or start < 0 or len(dst) + mlen > limit:
                raise ValueError("bad lz4 match")
            if off >= mlen:
                dst += dst[start:start + mlen]
            else:  # overlapping copy repeats the last `off` bytes
                for k in range(mlen):
                    dst.append(dst[start + k])
    except IndexError:
        raise ValueError("truncated lz4 block") from None
    return bytes(dst)
