"""A client of `pgboot testdb serve` for the integration tests; prints the
problems it finds (one per line), nothing when all is well.

    broker_client.py parallel SOCKET N ROUNDS URLFILE  N clients at once, each
        ROUNDS x (clone, check the database answers, drop); URLs to URLFILE
    broker_client.py malformed SOCKET                  bad requests get error
        lines; the broker serves on
    broker_client.py cut SOCKET                        sends half a request and
        exits (the broker must serve on)
    broker_client.py vanish SOCKET                     sends a clone request and
        closes at once, without reading the reply
    broker_client.py clone SOCKET                      prints one URL
    broker_client.py hints SOCKET ADDRESS TEMPLATE     every kind of error
        reply a client can cause carries a hint (a non-empty string); the
        refusal of another server's URL names the broker's (ADDRESS,
        host:port) and the URL's
"""
import json
import os
import re
import socket
import subprocess
import sys
import threading

PSQL = os.environ.get("PSQL", "psql")


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(path)
    return s, s.makefile("rb")


def ask(s, f, line):
    s.sendall(line if isinstance(line, bytes) else line.encode())
    rep = f.readline()
    if not rep:
        raise RuntimeError("the broker closed the connection after %r" % line)
    return json.loads(rep)


def psql(url, q):
    r = subprocess.run([PSQL, "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", q],
                       capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout.strip(), r.stderr.strip()


def parallel(path, n, rounds, urlfile):
    problems, urls, lock = [], [], threading.Lock()
    barrier = threading.Barrier(n)

    def worker(k):
        try:
            s, f = connect(path)
            barrier.wait()
            for r in range(rounds):
                rep = ask(s, f, json.dumps({"op": "clone", "id": [k, r]}) + "\n")
                if rep.get("id") != [k, r] or "url" not in rep:
                    raise RuntimeError("client %d round %d: clone answered %r" % (k, r, rep))
                rc, out, err = psql(rep["url"], "select count(*) from t")
                if rc != 0 or out != "1":
                    raise RuntimeError("client %d: %s: %s %s" % (k, rep["url"].rsplit("/", 1)[1], out, err))
                with lock:
                    urls.append(rep["url"])
                rep = ask(s, f, json.dumps({"op": "drop", "url": rep["url"], "id": "d%d" % r}) + "\n")
                if rep != {"ok": True, "id": "d%d" % r}:
                    raise RuntimeError("client %d round %d: drop answered %r" % (k, r, rep))
            s.close()
        except Exception as e:  # noqa: BLE001 - every failure is a finding
            with lock:
                problems.append("client %d: %s" % (k, e))

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    with open(urlfile, "w") as out:
        out.write("".join(u + "\n" for u in urls))
    names = [u.rsplit("/", 1)[1] for u in urls]
    if len(set(names)) != len(names):
        problems.append("a database was handed out twice: %d URLs, %d distinct" % (len(names), len(set(names))))
    if len(names) != n * rounds and not problems:
        problems.append("%d databases handed out, expected %d" % (len(names), n * rounds))
    return problems


def malformed(path):
    problems = []
    s, f = connect(path)
    cases = [
        (b"this is not json\n", None, "malformed request"),
        (b"[1,2]\n", None, "JSON object"),
        (b'{"id":7}\n', 7, "needs \"op\""),
        (b'{"op":"explode","id":"x"}\n', "x", "unknown op"),
        # an op whose 60th byte is inside a character: the reply is still JSON
        (('{"op":"%s\u00e9\u00e9","id":"u"}\n' % ("a" * 59)).encode(), "u", "unknown op"),
        (b'{"op":"clo\xff\xfe"}\n', None, "malformed request"),
        (b'{"op":"drop","id":8}\n', 8, "needs \"url\""),
        # another server's: refused before the broker connects there
        (b'{"op":"drop","url":"postgresql://u@127.0.0.1:1/pgboot_t_00000000_aaaaaaaaaaaa","id":9}\n', 9,
         "only databases of its own server"),
        (b'{"op":"keep","url":"postgresql://u@127.0.0.1:1/pgboot_t_00000000_aaaaaaaaaaaa","id":12}\n', 12,
         "only databases of its own server"),
        (b'{"op":"drop","url":"not a url","id":10}\n', 10, "not a postgresql:// URL"),
        (b'{"op":"keep","id":11}\n', 11, "needs \"url\""),
        (b'{"op":"clone"\n', None, "malformed request"),
        (b"{" + b" " * (70 << 10) + b"}\n", None, "too long"),
    ]
    for line, want_id, want in cases:
        rep = ask(s, f, line)
        shown = line[:60]
        if "error" not in rep or want not in rep["error"]:
            problems.append("%r: expected an error saying %r, got %r" % (shown, want, rep))
        if rep.get("id") != want_id:
            problems.append("%r: id %r echoed, expected %r" % (shown, rep.get("id"), want_id))
        if not isinstance(rep.get("hint"), str) or not rep["hint"].strip():
            problems.append("%r: no hint in %r" % (shown, rep))
    # blank lines are ignored; the broker still serves on this connection
    rep = ask(s, f, b"\n  \n" + json.dumps({"op": "clone", "id": "after"}).encode() + b"\n")
    if "url" not in rep or rep.get("id") != "after":
        problems.append("after the bad requests, clone answered %r" % rep)
    else:
        url = rep["url"]
        # its own server's database that it did not make: refused by name
        other = url[:url.rindex("/")] + "/postgres"
        rep = ask(s, f, json.dumps({"op": "drop", "url": other, "id": 13}) + "\n")
        if "not made by pgboot" not in rep.get("error", "") or rep.get("id") != 13:
            problems.append("drop of the server's postgres database answered %r" % rep)
        rep = ask(s, f, json.dumps({"op": "drop", "url": url}) + "\n")
        if rep != {"ok": True}:
            problems.append("drop after the bad requests answered %r" % rep)
    # requests sent ahead, in one write: the replies come in their order (a
    # clone waits for the drop before it, which the worker does)
    s.sendall(b'{"op":"drop","url":"postgresql://u@127.0.0.1:1/pgboot_t_00000000_aaaaaaaaaaaa","id":1}\n'
              b'{"op":"clone","id":2}\n{"op":"drop","url":"nope","id":3}\n')
    reps = [json.loads(f.readline()) for _ in range(3)]
    if [r.get("id") for r in reps] != [1, 2, 3]:
        problems.append("pipelined requests: replies %r, not in the order asked" % reps)
    elif "error" not in reps[0] or "url" not in reps[1] or "error" not in reps[2]:
        problems.append("pipelined requests: replies %r" % reps)
    else:
        ask(s, f, json.dumps({"op": "drop", "url": reps[1]["url"]}) + "\n")
    s.close()
    return problems


def with_db(url, db):
    return url[:url.rindex("/")] + "/" + db


def hints(path, address, template):
    """Each request, the error its reply must carry (a piece of it), and a
    hint: a non-empty string."""
    problems = []
    s, f = connect(path)

    def expect_error(line, want, why):
        rep = ask(s, f, line if isinstance(line, bytes) else json.dumps(line) + "\n")
        err, hint = rep.get("error"), rep.get("hint")
        if not isinstance(err, str) or want not in err:
            problems.append("%s: expected an error saying %r, got %r" % (why, want, rep))
        if not isinstance(hint, str) or not hint.strip():
            problems.append("%s: no hint (a non-empty string) in %r" % (why, rep))
        return rep

    other = "postgresql://u:secret@10.0.0.2:5433/pgboot_t_00000000_aaaaaaaaaaaa"
    # the protocol
    expect_error(b"this is not json\n", "malformed request", "not JSON")
    expect_error(b"[1,2]\n", "JSON object", "not an object")
    expect_error({"id": 1}, "needs \"op\"", "no op")
    expect_error({"op": "explode"}, "unknown op", "an unknown op")
    expect_error({"op": "drop"}, "needs \"url\"", "drop without url")
    expect_error({"op": "keep"}, "needs \"url\"", "keep without url")
    expect_error({"op": "keep", "url": other, "label": 3}, "takes a \"label\"", "a label that is no text")
    expect_error(b"{" + b" " * (70 << 10) + b"}\n", "too long", "an overlong line")
    # another server's URL: refused, naming the broker's server and the URL's
    for op in ("drop", "keep"):
        rep = expect_error({"op": op, "url": other}, "only databases of its own server",
                           op + " of another server's URL")
        err = rep.get("error", "")
        if "(%s)" % address not in err or "10.0.0.2:5433" not in err:
            problems.append("%s of another server's URL: the refusal names neither the broker's server "
                            "(%s) nor the URL's (10.0.0.2:5433): %r" % (op, address, err))
        if "secret" in err or "secret" in rep.get("hint", ""):
            problems.append("the refusal shows the URL's password: %r" % rep)
    rep = expect_error({"op": "drop", "url": "postgresql://u:secret@[bad/x"}, "not valid",
                       "drop of a URL libpq cannot read")
    if "secret" in json.dumps(rep):
        problems.append("the refusal of a URL libpq cannot read shows its password: %r" % rep)
    # not URLs, not test databases
    expect_error({"op": "drop", "url": "not a url"}, "not a postgresql:// URL", "drop of no URL")
    expect_error({"op": "keep", "url": "not a url"}, "not a postgresql:// URL", "keep of no URL")
    rep = ask(s, f, json.dumps({"op": "clone"}) + "\n")
    if "url" not in rep:
        problems.append("clone answered %r" % rep)
        return problems
    url = rep["url"]
    expect_error({"op": "drop", "url": with_db(url, "postgres")}, "not made by pgboot", "drop of postgres")
    expect_error({"op": "drop", "url": with_db(url, "nosuchdb")}, "not made by pgboot",
                 "drop of a database that is not a test database")
    expect_error({"op": "drop", "url": with_db(url, template)}, "not a clone it handed out",
                 "drop of the template")
    expect_error({"op": "keep", "url": with_db(url, template)}, "not a clone it handed out",
                 "keep of the template (not a clone)")
    m = re.match(r"^(postgresql://[^:/@]+:)([^@]*)(@.*)$", url)
    if not m:
        problems.append("the clone's URL has no password to change: %r" % url)
    else:
        expect_error({"op": "drop", "url": m.group(1) + "wrong" + m.group(3)}, "cannot connect",
                     "drop with a wrong password")
    rep = ask(s, f, json.dumps({"op": "keep", "url": url, "label": "x"}) + "\n")
    kept = rep.get("url")
    if not kept:
        problems.append("keep answered %r" % rep)
        return problems
    expect_error({"op": "keep", "url": url}, "does not exist", "keep of a clone kept already")
    expect_error({"op": "drop", "url": url}, "does not exist", "drop of a clone kept already")
    expect_error({"op": "keep", "url": kept}, "not a clone it handed out", "keep of a kept database")
    rep = ask(s, f, json.dumps({"op": "drop", "url": kept}) + "\n")
    if rep != {"ok": True}:
        problems.append("drop of the kept database answered %r" % rep)
    expect_error({"op": "drop", "url": kept}, "does not exist", "drop of a kept database dropped already")
    rep = ask(s, f, json.dumps({"op": "clone"}) + "\n")
    if "url" not in rep:
        problems.append("clone answered %r" % rep)
        return problems
    url = rep["url"]
    ask(s, f, json.dumps({"op": "drop", "url": url}) + "\n")
    expect_error({"op": "drop", "url": url}, "does not exist", "drop of a clone dropped already")
    s.close()
    return problems


def main():
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "parallel":
        problems = parallel(path, int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    elif mode == "malformed":
        problems = malformed(path)
    elif mode == "hints":
        problems = hints(path, sys.argv[3], sys.argv[4])
    elif mode == "cut":
        s, _ = connect(path)
        s.sendall(b'{"op":"clo')
        os._exit(0)
    elif mode == "vanish":
        s, _ = connect(path)
        s.sendall(b'{"op":"clone"}\n')
        s.shutdown(socket.SHUT_RDWR)
        s.close()
        problems = []
    elif mode == "clone":
        s, f = connect(path)
        rep = ask(s, f, '{"op":"clone"}\n')
        print(rep["url"])
        return
    else:
        problems = ["unknown mode " + mode]
    for p in problems:
        print(p)


main()
