#!/usr/bin/env python3
"""Make the installed static libvknorm.a from the internal archive: all objects partially linked into
one (ld -r), every global symbol made local except the public API (objcopy --keep-global-symbols),
then archived. Without this a program that links libvknorm.a and libvulkan would see the archive's
volk function pointers (vkCreateInstance, ...) and its internal helpers as ordinary globals: its own
vk* calls would bind to the pointers, and any helper name could clash with the program's.

    lib_static.py LD OBJCOPY AR KEEP_LIST IN.a OUT.a"""
import os
import subprocess
import sys
import tempfile


def main(argv):
    if len(argv) != 7:
        sys.exit(__doc__)
    ld, objcopy, ar, keep, src, out = argv[1:]
    with tempfile.TemporaryDirectory() as tmp:
        obj = os.path.join(tmp, 'vknorm.o')
        subprocess.run([ld, '-r', '-o', obj, '--whole-archive', src, '--no-whole-archive'], check=True)
        subprocess.run([objcopy, '--keep-global-symbols=' + keep, obj], check=True)
        if os.path.exists(out):
            os.remove(out)
        subprocess.run([ar, 'rcsD', out, obj], check=True)


if __name__ == '__main__':
    main(sys.argv)
