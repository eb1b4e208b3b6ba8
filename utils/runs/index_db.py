"""The sqlite file behind utils.runs.index (outputs/.runs-index.sqlite): one row per run folder, keyed by its name
and its run.json's modification time and size, so that a listing reads only what changed.

sqlite does the hard parts: WAL mode lets readers go on while one process writes, a busy timeout makes a second
writer wait its turn instead of failing, and a transaction either lands whole or not at all, so a crash mid-write
leaves the previous index. Beside the rows it keeps a fingerprint of the scan they match (every run.json's name,
modification time and size), written in the same transaction as the rows and only when they match it, so that a
listing whose scan gives the same fingerprint reads no key at all. A file that is not this index (damaged, or some other database) is set aside and
rebuilt from the folders with one warning line. An outputs folder where no file can be written gets an index in
memory: it still lists, it just rebuilds every time.
"""
import hashlib
import json
import os
import sqlite3
import sys

from utils.runs.folder import RUN_FILE

APPLICATION_ID = 0x52554E53  # "RUNS": tells this index from any other sqlite file of that name
SCHEMA_VERSION = 3  # the row's shape (utils.runs.index.summary_row): an index of another version is rebuilt
BUSY_SECONDS = 30.0  # how long a writer waits for another before giving up
# `runs` is small (keys, scope, order) so that checking every key, counting and ordering read few pages; the rows
# themselves sit in `rows` and are read only for the runs a listing shows.
SCHEMA = """
CREATE TABLE IF NOT EXISTS signatures (id INTEGER PRIMARY KEY, columns TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS runs (
    name TEXT PRIMARY KEY,
    mtime_ns INTEGER NOT NULL,
    size INTEGER NOT NULL,
    task TEXT,                 -- the row's task as text, NULL when the record names none
    started TEXT,              -- the row's start time when it is text, else NULL (and odd_started says so)
    odd_started INTEGER NOT NULL,
    signature INTEGER NOT NULL REFERENCES signatures (id)  -- the row's column names, for known_columns
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rows (name TEXT PRIMARY KEY, row TEXT NOT NULL) WITHOUT ROWID;  -- the row as JSON
CREATE INDEX IF NOT EXISTS runs_by_started ON runs (started, name);
CREATE INDEX IF NOT EXISTS runs_by_task ON runs (task, started, name);
CREATE INDEX IF NOT EXISTS runs_with_odd_start ON runs (name) WHERE odd_started;  -- so that finding none reads none
CREATE TABLE IF NOT EXISTS state (name TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;  -- 'folders': the fingerprint
"""


def connect(path) -> sqlite3.Connection:
    """The index at `path`, created when missing and rebuilt (one warning) when it is not an index of ours."""
    try:
        return _open(path)
    except sqlite3.DatabaseError as error:
        if not _is_damage(error):
            return _in_memory()
        print(f"warning: {path} is not a runs index ({error}); rebuilding it from the run folders", file=sys.stderr)
    for suffix in ("", "-wal", "-shm"):
        try:
            os.remove(f"{path}{suffix}")
        except FileNotFoundError:
            pass
        except OSError:
            return _in_memory()
    try:
        return _open(path)
    except sqlite3.DatabaseError:
        return _in_memory()


def _is_damage(error: sqlite3.DatabaseError) -> bool:
    """A file that is not our index (damaged, foreign), as against one we may not write (read-only, locked)."""
    text = str(error)
    return isinstance(error, ForeignIndex) or "not a database" in text or "malformed" in text or "corrupt" in text


class ForeignIndex(sqlite3.DatabaseError):
    pass


def _open(path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=BUSY_SECONDS, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")  # WAL keeps the file whole on a crash; a power cut may lose
        # the last listing's update, which the next listing redoes from the folders
        _check_or_create(connection)
    except Exception:
        connection.close()
        raise
    return connection


def _in_memory() -> sqlite3.Connection:
    connection = sqlite3.connect(":memory:", isolation_level=None)
    _check_or_create(connection)
    return connection


def _check_or_create(connection) -> None:
    application = connection.execute("PRAGMA application_id").fetchone()[0]
    tables = connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if application not in (0, APPLICATION_ID) or (application == 0 and tables):
        raise ForeignIndex(f"application_id {application:#x}, {tables} tables")
    if _is_current(connection):
        return
    connection.execute("BEGIN IMMEDIATE")
    try:
        # another process may have created the index between the look above and this lock: look again under it,
        # or this one would drop the tables that process has begun to fill
        if _is_current(connection):
            connection.execute("COMMIT")
            return
        for table in ("runs", "rows", "signatures", "state"):
            connection.execute(f"DROP TABLE IF EXISTS {table}")
        for statement in SCHEMA.split(";"):
            if statement.strip():
                connection.execute(statement)
        connection.execute(f"PRAGMA application_id={APPLICATION_ID}")
        connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        connection.execute("COMMIT")
    except Exception:
        connection.execute("ROLLBACK")
        raise


def _is_current(connection) -> bool:
    return (connection.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
            and connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION)


def keys(connection) -> dict:
    """{run name: (mtime_ns, size)} of every row."""
    return {name: (mtime, size) for name, mtime, size in connection.execute("SELECT name, mtime_ns, size FROM runs")}


def fingerprint(scanned: dict) -> str:
    """A digest of a scan ({name: (mtime_ns, size)}, in the order the folder listed them)."""
    return hashlib.blake2b(repr(scanned).encode(), digest_size=16).hexdigest()


def matches(connection, scanned: dict) -> bool:
    """Whether the rows are those of this scan, known from the fingerprint alone (no key is read)."""
    stored = connection.execute("SELECT value FROM state WHERE name = 'folders'").fetchone()
    return stored is not None and stored[0] == fingerprint(scanned)


def update(connection, outputs, fresh: dict, vanished, scanned: dict) -> None:
    """Write the rows in `fresh` ({name: (key, row)}) and drop the rows of `vanished` names, in one transaction,
    with the fingerprint of `scanned` when the keys then equal it (else none). A name is dropped only if its folder
    holds no run.json now, so a writer whose scan is older than a second writer's never drops a run the other has
    just added."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        gone = [(name,) for name in vanished if not os.path.isfile(os.path.join(outputs, name, RUN_FILE))]
        connection.executemany("DELETE FROM runs WHERE name = ?", gone)
        connection.executemany("DELETE FROM rows WHERE name = ?", gone)
        signatures = {}
        connection.executemany("INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?)",
                               [_values(connection, signatures, name, key, row) for name, (key, row) in fresh.items()])
        connection.executemany("INSERT OR REPLACE INTO rows VALUES (?, ?)",
                               [(name, json.dumps(row, default=str)) for name, (_, row) in fresh.items()])
        connection.execute("DELETE FROM signatures WHERE id NOT IN (SELECT signature FROM runs)")
        # Looked at under the write lock: another writer may have committed rows from an older scan between this
        # one's look at the keys and now, and a fingerprint over those would hide them from every later listing.
        value = fingerprint(scanned) if keys(connection) == scanned else None
        connection.execute("INSERT OR REPLACE INTO state VALUES ('folders', ?)", (value,))
        connection.execute("COMMIT")
    except Exception:
        connection.execute("ROLLBACK")
        raise


def _values(connection, signatures: dict, name: str, key, row: dict) -> tuple:
    task, started = row.get("task"), row.get("started")
    columns = json.dumps([column for column in row if not column.startswith("_")])
    if columns not in signatures:
        connection.execute("INSERT OR IGNORE INTO signatures (columns) VALUES (?)", (columns,))
        signatures[columns] = connection.execute("SELECT id FROM signatures WHERE columns = ?", (columns,)).fetchone()[0]
    signature = signatures[columns]
    return (name, key[0], key[1], task if isinstance(task, str) or task is None else json.dumps(task, default=str),
            started if isinstance(started, str) else None, int(started is not None and not isinstance(started, str)),
            signature)


def all_rows(connection, known: dict) -> list:
    """Every row; those in `known` ({name: row}, just written) are taken from there rather than decoded again."""
    return [known[name] if name in known else json.loads(text)
            for name, text in connection.execute("SELECT name, row FROM rows")]


def column_names(connection) -> list:
    """Every column some row has, each once, in a stable order (rows are not decoded; update keeps only the
    signatures some row has)."""
    names = {}
    for (text,) in connection.execute("SELECT columns FROM signatures ORDER BY id"):
        names.update(dict.fromkeys(json.loads(text)))
    return list(names)


def starts_are_text(connection) -> bool:
    """Whether every row's start time is text or missing, so that SQL orders them as utils.runs.query would."""
    return connection.execute("SELECT NOT EXISTS (SELECT 1 FROM runs WHERE odd_started)").fetchone()[0] == 1


def count(connection, task=None) -> int:
    where, parameters = _scope(task)
    return connection.execute(f"SELECT count(*) FROM runs {where}", parameters).fetchone()[0]


def by_started(connection, task=None, limit=None, descending=True) -> list:
    """Rows (of `task` and of records that name none, or of all) by start time, missing times last; `limit` rows.
    Each part walks an index in order, so only the rows returned are read."""
    where, parameters = _scope(task)
    direction = "DESC" if descending else "ASC"
    names = []
    for missing in (False, True):
        wanted = None if not limit else limit - len(names)
        if wanted == 0:
            break
        condition = f"started IS {'' if missing else 'NOT '}NULL" + (f" AND ({where[6:]})" if where else "")
        query = f"SELECT name FROM runs WHERE {condition} ORDER BY started {direction}, name {direction}"
        query, values = (query + " LIMIT ?", (*parameters, wanted)) if wanted else (query, parameters)
        names += [name for (name,) in connection.execute(query, values)]
    return [json.loads(_row_text(connection, name)) for name in names]


def _row_text(connection, name: str) -> str:
    return connection.execute("SELECT row FROM rows WHERE name = ?", (name,)).fetchone()[0]


def _scope(task) -> tuple:
    return ("", ()) if task is None else ("WHERE task = ? OR task IS NULL", (task,))
