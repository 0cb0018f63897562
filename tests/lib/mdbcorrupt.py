#!/usr/bin/env python3
# mdbcorrupt.py: damage an LMDB data.mdb (64-bit LMDB 0.9) the way a disk or a
# stray write might, leaving its meta pages good, for tests of the state store.
# usage: mdbcorrupt.py FILE MODE
#   tables  every page but the meta pages and the main root (so tables still open)
#   free    the root of the free-page list only (reads work, the next write faults)
# A damaged page keeps its number and flags (LMDB checks the flags) and gets one
# node 65520 bytes on, past the end of a small file: a SIGBUS at LMDB's first
# look into it, whatever LMDB's version. Exit 1 when the file is not one to damage.
import struct, sys

path, mode = sys.argv[1], sys.argv[2]
d = bytearray(open(path, 'rb').read())
if len(d) < 8192:
    sys.exit("mdbcorrupt.py: %s: too short" % path)
psize = struct.unpack_from('<I', d, 40)[0]
metas = []
for p in (0, 1):
    o = p * psize
    metas.append((struct.unpack_from('<Q', d, o + 144)[0],    # txnid
                  struct.unpack_from('<Q', d, o + 80)[0],     # free-page root
                  struct.unpack_from('<Q', d, o + 128)[0]))   # main root
_, free_root, main_root = max(metas)
npages = len(d) // psize
if npages * psize + 0 >= 65520:
    sys.exit("mdbcorrupt.py: %s: too long for a fault past its end" % path)
if mode == 'tables':
    pages = [p for p in range(2, npages) if p != main_root]
elif mode == 'free':
    if not 2 <= free_root < npages:
        sys.exit("mdbcorrupt.py: %s: no free-page list" % path)
    pages = [free_root]
else:
    sys.exit("mdbcorrupt.py: usage: FILE tables|free")
for p in pages:
    struct.pack_into('<HHH', d, p * psize + 12, 18, 0x0ff0, 0xfff0)
open(path, 'wb').write(d)
