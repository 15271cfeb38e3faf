#!/usr/bin/env python3
"""An app-like SQLite database for the migration benchmark:
users, projects, threads, MESSAGES messages with JSON text, 0/1 booleans,
ISO timestamps and some blobs; indexes, a partial index, a view and an
external-content FTS5 table.   gen_appdb.py PATH [MESSAGES]"""
import json
import os
import random
import sqlite3
import sys

path = sys.argv[1]
messages = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
if os.path.exists(path):
    os.remove(path)
random.seed(42)
db = sqlite3.connect(path)
db.executescript("""
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(120) NOT NULL UNIQUE,
                    name TEXT NOT NULL, is_admin BOOLEAN NOT NULL DEFAULT 0,
                    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE projects (id INTEGER PRIMARY KEY AUTOINCREMENT,
                       owner_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                       title TEXT NOT NULL, budget NUMERIC(12,2), settings JSON);
CREATE TABLE threads (id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL REFERENCES projects(id),
                      subject TEXT NOT NULL, archived BOOLEAN NOT NULL DEFAULT 0);
CREATE TABLE messages (id INTEGER PRIMARY KEY, thread_id INTEGER NOT NULL REFERENCES threads(id),
                       user_id INTEGER NOT NULL REFERENCES users(id), body TEXT NOT NULL,
                       meta JSON, is_read BOOLEAN NOT NULL DEFAULT 0,
                       created_at DATETIME NOT NULL, attachment BLOB,
                       score REAL);
CREATE INDEX messages_thread ON messages(thread_id, created_at);
CREATE INDEX messages_user ON messages(user_id);
CREATE INDEX messages_unread ON messages(user_id) WHERE is_read = 0;
CREATE VIEW unread AS SELECT user_id, count(*) AS n FROM messages WHERE is_read = 0 GROUP BY user_id;
CREATE VIRTUAL TABLE messages_fts USING fts5(body, content='messages', content_rowid='id');
""")
words = ("alpha beta gamma delta release deploy meeting review budget design "
         "database migration postgres sqlite launch fix bug feature customer").split()
nusers, nprojects, nthreads = 10_000, 1_000, 50_000
db.executemany("INSERT INTO users VALUES (?,?,?,?,?)",
               ((i, f"user{i}@example.test", f"User {i}", int(i % 97 == 0),
                 f"2023-{1 + i % 12:02d}-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:{i % 60:02d}")
                for i in range(1, nusers + 1)))
db.executemany("INSERT INTO projects VALUES (?,?,?,?,?)",
               ((i, 1 + i % nusers, f"Project {i}", round(random.uniform(0, 1e6), 2),
                 json.dumps({"color": random.choice(["red", "blue"]), "limit": i}))
                for i in range(1, nprojects + 1)))
db.executemany("INSERT INTO threads VALUES (?,?,?,?)",
               ((i, 1 + i % nprojects, " ".join(random.choices(words, k=4)), int(i % 10 == 0))
                for i in range(1, nthreads + 1)))

def message_rows():
    for i in range(1, messages + 1):
        body = " ".join(random.choices(words, k=random.randint(5, 25)))
        meta = json.dumps({"client": random.choice(["web", "ios", "android"]),
                           "edited": i % 13 == 0, "tags": random.sample(words, 2)})
        blob = os.urandom(random.randint(64, 512)) if i % 100 == 0 else None
        yield (i, 1 + i % nthreads, 1 + i % nusers, body, meta, int(i % 3 == 0),
               f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d}",
               blob, random.random() * 100)

db.executemany("INSERT INTO messages VALUES (?,?,?,?,?,?,?,?,?)", message_rows())
db.execute("INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')")
db.commit()
db.execute("PRAGMA journal_mode = DELETE")
db.close()
print(path)
