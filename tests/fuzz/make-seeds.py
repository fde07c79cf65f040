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
