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
"""
import json
import os
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
        if "hint" not in rep and want not in ("not made by pgboot", "not a postgresql:// URL"):
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


def main():
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "parallel":
        problems = parallel(path, int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    elif mode == "malformed":
        problems = malformed(path)
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
