"""A password-manager server's SQLite database, as its Rust (diesel) and Go
code writes it, with an event log (Go, xorm) and a media table (.NET, EF
Core): text UUIDs (upper case from .NET), 9 and 7 fractional digits, MySQL's
zero dates, JSON in BLOBs, COLLATE NOCASE keys, a cycle of foreign keys, an
AUTOINCREMENT counter past the largest key, the app's schema-version rows.
Usage: mig_real_app.py OUT.db (mig_real_app.sh)."""
import sqlite3, sys, json, uuid, random
random.seed(7)
p = sys.argv[1]
c = sqlite3.connect(p)
c.executescript("""
CREATE TABLE __diesel_schema_migrations (version VARCHAR(50) PRIMARY KEY NOT NULL, run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE attachments (id TEXT NOT NULL PRIMARY KEY, cipher_uuid TEXT NOT NULL REFERENCES ciphers (uuid), file_name TEXT NOT NULL, file_size INTEGER NOT NULL, akey TEXT);
CREATE TABLE ciphers (uuid TEXT NOT NULL PRIMARY KEY, created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL,
  user_uuid TEXT REFERENCES users (uuid), organization_uuid TEXT REFERENCES organizations (uuid),
  atype INTEGER NOT NULL, name TEXT NOT NULL, notes TEXT, fields TEXT, data TEXT NOT NULL,
  favorite BOOLEAN NOT NULL DEFAULT 0, deleted_at DATETIME, reprompt INTEGER);
CREATE TABLE devices (uuid TEXT NOT NULL, created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL,
  user_uuid TEXT NOT NULL REFERENCES users (uuid), name TEXT NOT NULL, atype INTEGER NOT NULL,
  push_token TEXT, refresh_token TEXT NOT NULL, PRIMARY KEY (uuid, user_uuid));
CREATE TABLE invitations (email TEXT NOT NULL PRIMARY KEY COLLATE NOCASE);
CREATE TABLE organizations (uuid TEXT NOT NULL PRIMARY KEY, name TEXT NOT NULL, billing_email TEXT NOT NULL,
  owner_uuid TEXT REFERENCES users (uuid));
CREATE TABLE users (uuid TEXT NOT NULL PRIMARY KEY, created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL,
  email TEXT NOT NULL UNIQUE COLLATE NOCASE, name TEXT NOT NULL, password_hash BLOB NOT NULL, salt BLOB NOT NULL,
  password_iterations INTEGER NOT NULL, enabled BOOLEAN NOT NULL DEFAULT 1, settings BLOB,
  default_org TEXT REFERENCES organizations (uuid), last_login DATETIME NOT NULL DEFAULT '0000-00-00 00:00:00');
CREATE TABLE users_organizations (uuid TEXT NOT NULL PRIMARY KEY, user_uuid TEXT NOT NULL REFERENCES users (uuid),
  org_uuid TEXT NOT NULL REFERENCES organizations (uuid), access_all BOOLEAN NOT NULL, akey TEXT NOT NULL,
  status INTEGER NOT NULL, atype INTEGER NOT NULL, UNIQUE (user_uuid, org_uuid));
-- a Go-style event log (xorm): int64 ids, a <table>_seq sequence in PostgreSQL
CREATE TABLE event (id INTEGER PRIMARY KEY AUTOINCREMENT, user_uuid TEXT REFERENCES users (uuid), act_type INTEGER NOT NULL,
  content TEXT, created TIMESTAMP NOT NULL, ip_address TEXT);
CREATE TABLE version (id INTEGER PRIMARY KEY AUTOINCREMENT, version INTEGER);
-- a .NET-style (EF Core) media table: uppercase GUIDs, 7 fractional digits
CREATE TABLE media_items (Id TEXT NOT NULL PRIMARY KEY, Name TEXT NOT NULL, DateCreated TEXT NOT NULL, DateModified TEXT NOT NULL, RunTimeTicks INTEGER, Rating NUMERIC(3,1));
""")
for v in ["2018-01-01-000000_create_tables", "2019-08-05-000000_add_devices", "2023-02-10-000000_add_event"]:
    c.execute("INSERT INTO __diesel_schema_migrations VALUES (?, '2023-02-10 09:00:00')", (v,))
c.execute("INSERT INTO version (version) VALUES (278)")
def ts(i, frac=None):
    f = frac if frac is not None else "%09d" % random.randrange(10**9)
    return "2024-03-%02d %02d:%02d:%02d.%s" % (1 + i % 28, i % 24, i % 60, (i * 7) % 60, f)
users = []
orgs = [str(uuid.UUID(int=random.getrandbits(128), version=4)) for _ in range(3)]
for i in range(20):
    u = str(uuid.UUID(int=random.getrandbits(128), version=4))
    users.append(u)
    settings = json.dumps({"theme": "dark", "lang": "fr", "emoji": "\U0001F511 clé"}).encode()
    c.execute("INSERT INTO users VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
              (u, ts(i), ts(i + 1), ("User%d@Example.com" % i) if i % 2 else ("user%d@example.com" % i),
               "Ümlaut Name %d" % i, bytes(random.randrange(256) for _ in range(32)), bytes(range(16)),
               600000, 1 if i % 5 else 0, settings if i % 3 else None, orgs[i % 3] if i % 4 else None,
               '0000-00-00 00:00:00' if i % 2 else ts(i, "000000000")))
for k, o in enumerate(orgs):
    c.execute("INSERT INTO organizations VALUES (?,?,?,?)", (o, "Org %d" % k, "billing%d@example.com" % k, users[k]))
for i, u in enumerate(users):
    for o in orgs[: 1 + i % 3]:
        c.execute("INSERT INTO users_organizations VALUES (?,?,?,?,?,?,?)", (str(uuid.UUID(int=random.getrandbits(128), version=4)), u, o, i % 2, "akey", 2, i % 4))
ciphers = []
for i in range(200):
    cu = str(uuid.UUID(int=random.getrandbits(128), version=4)); ciphers.append(cu)
    data = json.dumps({"Name": "login %d" % i, "Username": "me", "Password": "2.abc|def", "Uris": [{"Uri": "https://ex%d.org" % i}]})
    fields = json.dumps([{"Name": "pin", "Value": "1234", "Type": 1}]).encode() if i % 4 == 0 else None
    c.execute("INSERT INTO ciphers VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
              (cu, ts(i), ts(i + 3), users[i % 20] if i % 5 else None, None if i % 5 else orgs[i % 3], 1 + i % 4,
               "login %d" % i, "note ☃ %d" % i if i % 7 == 0 else None, fields, data.encode() if i % 10 == 0 else data,
               i % 3 == 0, ts(i, "000000000") if i % 50 == 0 else None, 0))
for i in range(30):
    c.execute("INSERT INTO attachments VALUES (?,?,?,?,?)", ("att%04d" % i, ciphers[i * 3], "file%d.pdf" % i, 1000 * i, None))
for i in range(25):
    c.execute("INSERT INTO devices VALUES (?,?,?,?,?,?,?,?)",
              (str(uuid.UUID(int=random.getrandbits(128), version=4)).upper(), ts(i), ts(i + 2), users[i % 20], "Firefox", 10, None, "rt%d" % i))
for e in ["Alice@Example.com", "bob@example.com", "CAROL@example.org"]:
    c.execute("INSERT INTO invitations VALUES (?)", (e,))
for i in range(300):
    c.execute("INSERT INTO event (user_uuid, act_type, content, created, ip_address) VALUES (?,?,?,?,?)",
              (users[i % 20], i % 12, '{"x": %d}' % i, "2024-04-%02dT%02d:%02d:%02d.%09d+02:00" % (1 + i % 28, i % 24, i % 60, i % 60, random.randrange(10**9)), "10.0.0.%d" % (i % 250)))
c.execute("DELETE FROM event WHERE id > 295")
for i in range(40):
    c.execute("INSERT INTO media_items VALUES (?,?,?,?,?,?)",
              (str(uuid.UUID(int=random.getrandbits(128), version=4)).upper(), "Movie %d" % i, "2023-11-%02d 10:11:12.%07d" % (1 + i % 28, random.randrange(10**7)),
               "2023-12-%02d 10:11:12.0000000" % (1 + i % 28), 72000000000 + i, round(random.uniform(1, 10), 1)))
c.commit()
