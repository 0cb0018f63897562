#!/usr/bin/env python3
# tests/fuzz/dns-seeds.py: writes the seed answers of tests/fuzz/dns_fuzz.c as hex into tests/fuzz/dns/
# (the first byte picks the type asked: 00 A, 01 AAAA, 02 TXT, 03 PTR; the rest is the response)
# usage: python3 tests/fuzz/dns-seeds.py   (from the top of the tree; tests/lib/fuzz.sh turns .hex into binary)
import os, struct

def name(dotted):
    out = b''
    for label in dotted.rstrip('.').split('.'):
        out += bytes([len(label)]) + label.encode()
    return out + b'\0'

def header(qid, rcode, an, ns=0, tc=0):
    flags = 0x8180 | rcode | (0x200 if tc else 0)
    return struct.pack('>HHHHHH', qid, flags, 1, an, ns, 0)

def question(qname, qtype):
    return name(qname) + struct.pack('>HH', qtype, 1)

def rr(owner, rtype, rdata, ttl=2100):
    # owner: bytes (a name or a compression pointer)
    return owner + struct.pack('>HHIH', rtype, 1, ttl, len(rdata)) + rdata

PTR0 = b'\xc0\x0c'  # the name of the question

def txt(*strings):
    return b''.join(bytes([len(s)]) + s.encode() for s in strings)

seeds = {
    'a-two': (0, 'zen answer: 127.0.0.2 and 127.0.0.4',
        header(0x1234, 0, 2) + question('2.0.0.127.zen.spamhaus.org', 1)
        + rr(PTR0, 1, bytes([127, 0, 0, 2])) + rr(PTR0, 1, bytes([127, 0, 0, 4]))),
    'a-cname': (0, 'a CNAME, then the A record of its target (a pointer to the CNAME\'s rdata)',
        header(7, 0, 2) + question('2.0.0.127.list.example', 1)
        + rr(PTR0, 5, name('2.0.0.127.other.example')) + rr(b'\xc0\x34', 1, bytes([127, 0, 0, 10]))),
    'a-nxdomain': (0, 'NXDOMAIN with the SOA of the zone',
        header(9, 3, 0, 1) + question('9.2.0.192.bl.example', 1)
        + rr(b'\xc0\x16', 6, name('ns.bl.example') + name('hostmaster.bl.example') + struct.pack('>IIIII', 1, 2, 3, 4, 5))),
    'a-servfail': (0, 'SERVFAIL', header(10, 2, 0) + question('2.0.0.127.bl.example', 1)),
    'a-truncated': (0, 'TC set, no answer', header(11, 0, 0, tc=1) + question('2.0.0.127.bl.example', 1)),
    'txt-two': (2, 'two TXT records, the first of two strings',
        header(12, 0, 2) + question('2.0.0.127.zen.spamhaus.org', 16)
        + rr(PTR0, 16, txt('https://www.spamhaus.org/sbl/query/', 'SBL233'))
        + rr(PTR0, 16, txt('Listed by XBL, see https://www.spamhaus.org/query/ip/127.0.0.2'))),
    'ptr': (3, 'PTR with a compressed name',
        header(13, 0, 1) + question('7.2.0.192.in-addr.arpa', 12)
        + rr(PTR0, 12, name('mail.example.net'))),
    'aaaa': (1, 'AAAA of a host',
        header(14, 0, 1) + question('mx.example.net', 28)
        + rr(PTR0, 28, bytes.fromhex('20010db8000000000000000000000025'))),
}

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'dns')
os.makedirs(here, exist_ok=True)
for file, (sel, what, pkt) in sorted(seeds.items()):
    data = bytes([sel]) + pkt
    with open(os.path.join(here, file + '.hex'), 'w') as f:
        f.write('# %s (written by tests/fuzz/dns-seeds.py)\n' % what)
        for i in range(0, len(data), 16):
            f.write(data[i:i + 16].hex(' ') + '\n')
