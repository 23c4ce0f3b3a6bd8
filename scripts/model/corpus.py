"""Extracts Jane Austen's six novels from Debian's r-cran-janeaustenr package into plain text.

The package stores each novel as an R character vector (one element per printed line) in R's
lazy-load database (data/Rdata.rdb: a run of zlib blocks, each an XDR-serialised R object). This
reads that format directly, so no R install is needed. Paragraphs are unwrapped to one line each.

Usage: python3 scripts/model/corpus.py OUT_DIR   (runs `apt-get download`, needs Debian's apt)
Writes OUT_DIR/{train,val}.txt: the last 5% of each novel's paragraphs is held out for validation.
"""
import glob
import os
import struct
import subprocess
import sys
import tempfile
import zlib

NOVELS = 6
VAL_FRACTION = 0.05


def rdb_objects(data):
    """Yields each decompressed block of an R lazy-load database."""
    pos = 0
    while pos < len(data):
        pos += 4  # uncompressed length, big-endian; zlib knows where its stream ends
        d = zlib.decompressobj()
        yield d.decompress(data[pos:])
        pos = len(data) - len(d.unused_data)


def character_vector(blob):
    """Decodes an XDR-serialised R object if it is a plain character vector, else None."""
    if blob[:2] != b'X\n':
        return None
    (version,) = struct.unpack_from('>i', blob, 2)
    pos = 14
    if version == 3:
        (n,) = struct.unpack_from('>i', blob, pos)
        pos += 4 + n
    flags, length = struct.unpack_from('>ii', blob, pos)
    if flags & 0xFF != 16:  # STRSXP
        return None
    pos += 8
    out = []
    for _ in range(length):
        _, n = struct.unpack_from('>ii', blob, pos)
        pos += 8
        out.append('' if n < 0 else blob[pos:pos + n].decode('utf-8'))
        pos += max(n, 0)
    return out


def paragraphs(lines):
    """Joins hard-wrapped lines into paragraphs (blank lines separate them)."""
    out, cur = [], []
    for line in lines + ['']:
        if line.strip():
            cur.append(line.strip())
        elif cur:
            out.append(' '.join(cur))
            cur = []
    return out


def main(out_dir):
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(['apt-get', 'download', 'r-cran-janeaustenr'], cwd=tmp, check=True)
        deb = glob.glob(os.path.join(tmp, '*.deb'))[0]
        subprocess.run(['dpkg-deb', '-x', deb, tmp], check=True)
        rdb = os.path.join(tmp, 'usr/lib/R/site-library/janeaustenr/data/Rdata.rdb')
        with open(rdb, 'rb') as f:
            vectors = [v for v in map(character_vector, rdb_objects(f.read())) if v]
    novels = [v for v in vectors if len(v) > 1000]  # the package's other objects are small
    assert len(novels) == NOVELS, f'expected {NOVELS} novels, found {len(novels)}'
    train, val = [], []
    for lines in novels:
        paras = paragraphs(lines)
        cut = int(len(paras) * (1 - VAL_FRACTION))
        train.append('\n\n'.join(paras[:cut]))
        val.append('\n\n'.join(paras[cut:]))
        print(f'{paras[0]}: {len(paras)} paragraphs')
    os.makedirs(out_dir, exist_ok=True)
    for split, books in (('train', train), ('val', val)):
        with open(os.path.join(out_dir, f'{split}.txt'), 'w') as f:
            f.write('\n\n\n'.join(books))
        print(f'{split}: {sum(map(len, books))} characters')


if __name__ == '__main__':
    main(sys.argv[1])
