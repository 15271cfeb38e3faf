"""pytest plugin for pgboot: a fresh PostgreSQL database per test.

Load it without installing anything: put this directory on sys.path and
name it in conftest.py (``pytest_plugins = ["pgboot_pytest"]``), or run
``pytest -p pgboot_pytest`` with PYTHONPATH set.

One broker (``pgboot testdb serve``) per session hands the databases out
from a pool; pytest-xdist workers share the controller's broker through
PGBOOT_BROKER_SOCKET. The database of a failed test is kept (renamed to
carry the test's name) and listed at the end of the report.

The protocol (JSON lines over a Unix socket) is in pgboot's README.
"""

import json
import os
import shlex
import socket
import subprocess
import threading

import pytest

SOCKET_ENV = "PGBOOT_BROKER_SOCKET"


class BrokerError(Exception):
    """A request the broker answered with {"error": ..., "hint": ...}."""

    def __init__(self, error, hint=None):
        super().__init__(error + ("\nhint: " + hint if hint else ""))
        self.error = error
        self.hint = hint


class BrokerClient:
    """One connection to a broker's socket; one request at a time (a lock
    makes it safe to share between threads)."""

    def __init__(self, path):
        self.path = path
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.connect(path)
        self._file = self._sock.makefile("rb")
        self._lock = threading.Lock()
        self._next_id = 0

    def request(self, op, **fields):
        with self._lock:
            self._next_id += 1
            req = dict(fields, op=op, id=self._next_id)
            self._sock.sendall(json.dumps(req).encode() + b"\n")
            line = self._file.readline()
        if not line:
            raise BrokerError("the pgboot broker closed the connection (did it stop?)")
        rep = json.loads(line)
        if "error" in rep:
            raise BrokerError(rep["error"], rep.get("hint"))
        return rep

    def clone(self):
        return self.request("clone")["url"]

    def drop(self, url):
        self.request("drop", url=url)

    def keep(self, url, label):
        return self.request("keep", url=url, label=label)["url"]

    def close(self):
        self._file.close()
        self._sock.close()


class Broker:
    """A ``pgboot testdb serve`` process: it lives while its stdin is open."""

    def __init__(self, args, pgboot="pgboot", env=None):
        self.proc = subprocess.Popen(
            [pgboot, "testdb", "serve"] + list(args),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        line = self.proc.stdout.readline()
        ready = json.loads(line) if line.strip() else {}
        if ready.get("event") != "ready":
            self.proc.stdin.close()
            err = self.proc.stderr.read().decode(errors="replace").strip()
            self.proc.wait()
            raise BrokerError(
                ready.get("error") or err or "pgboot testdb serve ended before it was ready",
                ready.get("hint"),
            )
        self.socket = ready["socket"]
        self.template = ready.get("template")

    def stop(self):
        """Close its stdin: it drops what it handed out and nobody dropped or
        kept, removes its socket and exits."""
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)
        self.proc.stdout.close()
        self.proc.stderr.close()


def url_without_password(url):
    """The URL for a report: the password is not printed."""
    head, sep, rest = url.partition("://")
    auth, at, host = rest.rpartition("@")
    if not at:
        return url
    return head + sep + auth.split(":", 1)[0] + "@" + host


# ---- options ------------------------------------------------------------------

def pytest_addoption(parser):
    g = parser.getgroup("pgboot", "a fresh PostgreSQL database per test (pgboot)")
    g.addoption("--pgboot-app", help="the pgboot app whose server makes the databases")
    g.addoption("--pgboot-url", help="the server to make the databases in, instead of an app's")
    g.addoption("--pgboot-template-sql", action="append", default=None, metavar="FILE",
                help="an SQL file of the template (repeatable, in order)")
    g.addoption("--pgboot-template-cmd", metavar="CMD",
                help="a command that builds the template (run by /bin/sh with DATABASE_URL)")
    g.addoption("--pgboot-template-key", action="append", default=None, metavar="PATH",
                help="a file or directory whose contents key the template (repeatable)")
    g.addoption("--pgboot-bin", metavar="PATH", help="the pgboot program (default: pgboot on PATH)")
    parser.addini("pgboot_app", "the pgboot app whose server makes the databases")
    parser.addini("pgboot_url", "the server to make the databases in, instead of an app's")
    parser.addini("pgboot_template_sql", "SQL files of the template, in order", type="linelist")
    parser.addini("pgboot_template_cmd", "a command that builds the template")
    parser.addini("pgboot_template_key", "files or directories keying the template", type="linelist")
    parser.addini("pgboot_bin", "the pgboot program")


def _opt(config, name):
    v = config.getoption("--pgboot-" + name.replace("_", "-"))
    if v is None or v == []:
        v = config.getini("pgboot_" + name)
    return v


def _rel(config, path):
    """Paths in the ini file are relative to it; on the command line, to the
    current directory."""
    base = config.inipath.parent if config.inipath else config.rootpath
    return str(base / path) if not os.path.isabs(path) else path


def _serve_args(config):
    args = []
    app, url = _opt(config, "app"), _opt(config, "url")
    if bool(app) == bool(url):
        raise pytest.UsageError(
            "pgboot: give one of --pgboot-app NAME and --pgboot-url URL "
            "(or pgboot_app / pgboot_url in the ini file)")
    args += ["--app", app] if app else ["--url", url]
    for f in _opt(config, "template_sql") or []:
        args += ["--template-sql", f if config.getoption("--pgboot-template-sql") else _rel(config, f)]
    cmd = _opt(config, "template_cmd")
    if cmd:
        args += ["--template-cmd", cmd]
    for k in _opt(config, "template_key") or []:
        args += ["--template-key", k if config.getoption("--pgboot-template-key") else _rel(config, k)]
    return args


# ---- the session's broker ------------------------------------------------------

class _State:
    def __init__(self):
        self.broker = None  # ours (the controller's, or a run without xdist)
        self.client = None
        self.socket = None
        self.kept = []  # (nodeid, url without password)


_state = _State()


def pytest_configure(config):
    config.addinivalue_line("markers", "pgboot: uses a pgboot test database")
    if hasattr(config, "workerinput"):
        return  # an xdist worker: the controller's broker, through the environment
    if os.environ.get(SOCKET_ENV):
        _state.socket = os.environ[SOCKET_ENV]  # a broker someone else runs
        return
    if not (_opt(config, "app") or _opt(config, "url")):
        return  # not configured: the fixtures say so when used
    pgboot = _opt(config, "bin") or os.environ.get("PGBOOT_BIN") or "pgboot"
    try:
        _state.broker = Broker(_serve_args(config), pgboot=pgboot)
    except (BrokerError, OSError) as e:
        raise pytest.UsageError("pgboot: cannot start the broker (%s testdb serve %s): %s"
                                % (pgboot, " ".join(shlex.quote(a) for a in _serve_args(config)), e))
    _state.socket = _state.broker.socket
    os.environ[SOCKET_ENV] = _state.socket  # xdist workers start after this


def pytest_unconfigure(config):
    if _state.client:
        _state.client.close()
        _state.client = None
    if _state.broker:
        _state.broker.stop()
        _state.broker = None
        os.environ.pop(SOCKET_ENV, None)


def _client():
    if _state.client is None:
        path = _state.socket or os.environ.get(SOCKET_ENV)
        if not path:
            raise pytest.UsageError(
                "pgboot: no broker: give --pgboot-app NAME or --pgboot-url URL and the template "
                "(--pgboot-template-sql FILE, --pgboot-template-cmd CMD), or the ini options "
                "pgboot_app / pgboot_url / pgboot_template_sql")
        _state.client = BrokerClient(path)
    return _state.client


@pytest.fixture(scope="session")
def pgboot_broker():
    """The session's BrokerClient (clone(), drop(url), keep(url, label))."""
    return _client()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call":
        item._pgboot_failed = rep.failed
    elif rep.when == "setup" and rep.failed:
        item._pgboot_failed = True
    kept = getattr(item, "_pgboot_kept", None)
    if kept and rep.when == "teardown":
        rep.user_properties.append(("pgboot_kept_database", kept))


def pytest_runtest_logreport(report):
    for name, value in report.user_properties:
        if name == "pgboot_kept_database" and (report.nodeid, value) not in _state.kept:
            _state.kept.append((report.nodeid, value))


def pytest_terminal_summary(terminalreporter):
    if not _state.kept:
        return
    terminalreporter.section("pgboot: databases of failed tests, kept")
    for nodeid, url in _state.kept:
        terminalreporter.write_line("%s: %s" % (nodeid, url))
    terminalreporter.write_line(
        "(the password is the app's: pgboot url --app NAME; remove them with pgboot testdb clean --kept)")


class DatabaseURL(str):
    """A database's URL (a str, for any driver) whose repr, which pytest's
    tracebacks and assertion messages show, leaves the password out."""

    def __repr__(self):
        return repr(url_without_password(str(self)))


@pytest.fixture
def pgboot_database_url(request):
    """The URL of a fresh database cloned from the template; dropped after
    the test, or kept (and listed in the report) when the test failed."""
    client = _client()
    url = client.clone()
    yield DatabaseURL(url)
    if getattr(request.node, "_pgboot_failed", False):
        kept = client.keep(url, request.node.nodeid)
        request.node._pgboot_kept = url_without_password(kept)
    else:
        client.drop(url)


@pytest.fixture
def pgboot_connection(pgboot_database_url):
    """A psycopg (3) connection to the test's database (autocommit off)."""
    try:
        import psycopg
    except ImportError:
        pytest.fail("pgboot_connection needs psycopg (pip install psycopg, or python3-psycopg); "
                    "pgboot_database_url gives the URL for any driver", pytrace=False)
    conn = psycopg.connect(pgboot_database_url)
    yield conn
    conn.close()
