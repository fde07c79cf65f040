#!/usr/bin/env python3
"""Re-create the fuzzers' seed corpora in tests/fuzz/corpus/ (valid and malformed IDX and JSON files).
The files are kept in the repository; run this only to regenerate them."""
import gzip, os, struct

d = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus')
os.makedirs(d + '/idx', exist_ok=True)
os.makedirs(d + '/mnist_json', exist_ok=True)

def img(n, h, w, c=None):
    body = bytes((i * 37) & 255 for i in range(n * h * w * (c or 1)))
    if c is None:
        return struct.pack('>IIII', 0x803, n, h, w) + body
    return struct.pack('>IIIII', 0x804, n, c, h, w) + body

def lab(n, k=10):
    return struct.pack('>II', 0x801, n) + bytes(i % k for i in range(n))

seeds = {
    'img_2x28x28': img(2, 28, 28), 'img_3x5x4': img(3, 5, 4), 'img_rgb_2x3x4x4': img(2, 4, 4, 3),
    'img_1x1x1': img(1, 1, 1), 'lab_12': lab(12), 'lab_1': lab(1),
    'bad_magic': b'PK\x03\x04' + bytes(20), 'truncated': img(3, 5, 4)[:40],
    'huge_count': struct.pack('>IIII', 0x803, 0x80000000, 28, 28) + bytes(16),
    'lab_out_of_range': struct.pack('>II', 0x801, 3) + bytes([1, 2, 200]),
}
for k, v in seeds.items():
    open(f'{d}/idx/{k}', 'wb').write(v)
for k in ['img_3x5x4', 'img_rgb_2x3x4x4', 'lab_12']:
    open(f'{d}/idx/{k}.gz', 'wb').write(gzip.compress(seeds[k], mtime=0))
open(f'{d}/idx/truncated.gz', 'wb').write(gzip.compress(seeds['img_2x28x28'], mtime=0)[:30])

vals = ','.join(str(round(((i * 13) % 256) / 255, 3)) if i % 7 else '0' for i in range(784))
json = {
    'one_digit.json': '{ "data": [' + vals + ']}',
    'two_digits.json': '{ "data": [' + vals + ',' + vals + ']}',
    'empty.json': '{"data": []}', 'wrong_key.json': '{"pixels":[0,1]}',
    'truncated.json': '{ "data": [0,0.5,1', 'nested.json': '{"data":[[0],{"a":1}]}',
    'out_of_range.json': '{"data":[' + ','.join(['2'] * 784) + ']}',
}
for k, v in json.items():
    open(f'{d}/mnist_json/{k}', 'w').write(v)

# ---- TrueType fonts for fuzz_font: small, valid fonts built here (no third-party font data), each
# exercising a part of what src/data/ttf.c validates: simple and compound glyphs, cmap formats 4, 6,
# 12 and 0, kerning through kern or GPOS (pair formats 1 and 2), short and long loca.
os.makedirs(d + '/font', exist_ok=True)

def simple_glyph(contours, box=None):
    """contours: lists of (x, y, on_curve) points."""
    pts = [p for c in contours for p in c]
    xs = [p[0] for p in pts]; ys = [p[1] for p in pts]
    box = box or (min(xs), min(ys), max(xs), max(ys))
    out = struct.pack('>hhhhh', len(contours), *box)
    end = -1
    for c in contours:
        end += len(c); out += struct.pack('>H', end)
    out += struct.pack('>H', 0)  # no instructions
    flags, xb, yb = b'', b'', b''
    px = py = 0
    for x, y, on in pts:
        flags += bytes([1 if on else 0])
        xb += struct.pack('>h', x - px); yb += struct.pack('>h', y - py)
        px, py = x, y
    return out + flags + xb + yb

def compound_glyph(parts, box):
    out = struct.pack('>hhhhh', -1, *box)
    for i, (g, dx, dy, scale) in enumerate(parts):
        fl = 2 | 1 | (32 if i < len(parts) - 1 else 0) | (8 if scale else 0)
        out += struct.pack('>HHhh', fl, g, dx, dy)
        if scale: out += struct.pack('>h', int(scale * 16384))
    return out

def cmap4(mapping):
    segs = [(cp, cp, g - cp) for cp, g in sorted(mapping.items())] + [(0xffff, 0xffff, 1)]
    n = len(segs)
    sr = 2 * (1 << (n.bit_length() - 1)); es = n.bit_length() - 1; rs = 2 * n - sr
    body = struct.pack('>HHHH', 2 * n, sr, es, rs)
    body += b''.join(struct.pack('>H', e) for _, e, _ in segs) + b'\0\0'
    body += b''.join(struct.pack('>H', s) for s, _, _ in segs)
    body += b''.join(struct.pack('>h', ((dl + 32768) % 65536) - 32768) for _, _, dl in segs)
    body += b'\0\0' * n
    return struct.pack('>HHH', 4, 6 + len(body), 0) + body

def cmap12(mapping):
    groups = b''.join(struct.pack('>III', cp, cp, g) for cp, g in sorted(mapping.items()))
    return struct.pack('>HHIII', 12, 0, 16 + len(groups), 0, len(mapping)) + groups

def cmap6(mapping):
    first = min(mapping); last = max(mapping)
    arr = b''.join(struct.pack('>H', mapping.get(c, 0)) for c in range(first, last + 1))
    return struct.pack('>HHHHH', 6, 10 + len(arr), 0, first, last - first + 1) + arr

def cmap0(mapping):
    arr = bytes(mapping.get(c, 0) for c in range(256))
    return struct.pack('>HHH', 0, 262, 0) + arr

def cmap_table(sub, platform=(3, 1)):
    return struct.pack('>HHHHI', 0, 1, platform[0], platform[1], 12) + sub

def kern_table(pairs):
    n = len(pairs)
    body = struct.pack('>HHHH', n, 6, 0, 0) + b''.join(struct.pack('>HHh', a, b, v) for (a, b), v in sorted(pairs.items()))
    return struct.pack('>HHHHH', 0, 1, 0, 6 + len(body), 1) + body

def gpos_table(pairs, fmt):
    firsts = sorted({a for a, _ in pairs})
    cov = struct.pack('>HH', 1, len(firsts)) + b''.join(struct.pack('>H', g) for g in firsts)
    if fmt == 1:
        sets = [b''.join(struct.pack('>Hh', b, v) for (a, b), v in sorted(pairs.items()) if a == f) for f in firsts]
        sets = [struct.pack('>H', len(s) // 4) + s for s in sets]
        head_len = 10 + 2 * len(sets)
        offs, at = [], head_len
        for s in sets: offs.append(at); at += len(s)
        sub = struct.pack('>HHHHH', 1, at, 4, 0, len(sets)) + b''.join(struct.pack('>H', o) for o in offs) + b''.join(sets) + cov
    else:
        c1 = struct.pack('>HHH', 1, firsts[0], len(firsts)) + b''.join(struct.pack('>H', i) for i in range(len(firsts)))
        seconds = sorted({b for _, b in pairs})
        c2 = struct.pack('>HH', 2, len(seconds)) + b''.join(struct.pack('>HHH', g, g, i + 1) for i, g in enumerate(seconds))
        n1, n2 = len(firsts), len(seconds) + 1
        recs = b''.join(struct.pack('>h', pairs.get((firsts[i], seconds[j - 1]), 0) if j else 0) for i in range(n1) for j in range(n2))
        at = 16 + len(recs)
        sub = struct.pack('>HHHHHHHH', 2, at + len(c1) + len(c2), 4, 0, at, at + len(c1), n1, n2) + recs + c1 + c2 + cov
    lookup = struct.pack('>HHHH', 2, 0, 1, 8) + sub
    lookup_list = struct.pack('>HH', 1, 4) + lookup
    return struct.pack('>HHHHH', 1, 0, 10, 10, 10) + lookup_list

def font(glyphs, mapping, long_loca=False, cmap=cmap4, kern=None, gpos=None, upem=1000):
    glyf, loca = b'', []
    for g in glyphs:
        loca.append(len(glyf)); glyf += g + b'\0' * (len(g) % 2)
    loca.append(len(glyf))
    loca_b = b''.join(struct.pack('>I' if long_loca else '>H', o if long_loca else o // 2) for o in loca)
    n = len(glyphs)
    tables = {
        b'head': struct.pack('>IIIIHHQQhhhhHHhhh', 0x10000, 0, 0, 0x5F0F3CF5, 0, upem, 0, 0, 0, -200, 1000, 900, 0, 8, 2,
                             1 if long_loca else 0, 0),
        b'hhea': struct.pack('>IhhhHhhhhhhhhhhhH', 0x10000, 800, -200, 90, 1000, 0, 0, 900, 1, 0, 0, 0, 0, 0, 0, 0, n),
        b'maxp': struct.pack('>IH', 0x5000, n),
        b'hmtx': b''.join(struct.pack('>Hh', 600 + 10 * i, 20) for i in range(n)),
        b'loca': loca_b, b'glyf': glyf, b'cmap': cmap_table(cmap(mapping)),
    }
    if kern: tables[b'kern'] = kern_table(kern)
    if gpos: tables[b'GPOS'] = gpos_table(*gpos)
    tags = sorted(tables)
    out = struct.pack('>IHHHH', 0x10000, len(tags), 0, 0, 0)
    at = 12 + 16 * len(tags)
    dir_, data = b'', b''
    for t in tags:
        body = tables[t]
        dir_ += t + struct.pack('>III', 0, at + len(data), len(body))
        data += body + b'\0' * (-len(body) % 4)
    return out + dir_ + data

box = [(100, 0, True), (500, 0, True), (500, 700, True), (100, 700, True)]
ring = [(300, 100, False), (450, 350, True), (300, 600, False), (150, 350, True)]
g0 = simple_glyph([box])
g1 = simple_glyph([box, ring])
g2 = simple_glyph([[(50, 0, True), (300, 700, False), (550, 0, True)]])
g3 = compound_glyph([(1, 0, 0, None), (2, 100, 50, 0.5)], (0, 0, 700, 800))
g4 = compound_glyph([(3, 20, 0, None)], (0, 0, 800, 800))
glyphs = [g0, g1, g2, g3, g4, b'']
digits = {ord('0') + i: 1 + i % 4 for i in range(10)}
digits.update({ord('A'): 1, ord('H'): 2, ord('V'): 3, 0x263A: 4})
fonts = {
    'cmap4_kern.ttf': font(glyphs, digits, kern={(1, 2): -40, (2, 3): 25}),
    'cmap12_long_loca.ttf': font(glyphs, digits, long_loca=True, cmap=cmap12),
    'cmap6_gpos1.ttf': font(glyphs, {k: v for k, v in digits.items() if k < 256}, cmap=cmap6, gpos=({(1, 2): -30, (1, 3): 15, (3, 1): 5}, 1)),
    'cmap0_gpos2.ttf': font(glyphs, {k: v for k, v in digits.items() if k < 256}, cmap=cmap0,
                            gpos=({(1, 2): -30, (2, 3): 15}, 2), upem=2048),
}
for k, v in fonts.items():
    open(f'{d}/font/{k}', 'wb').write(v)
open(f'{d}/font/truncated.ttf', 'wb').write(fonts['cmap4_kern.ttf'][:300])
