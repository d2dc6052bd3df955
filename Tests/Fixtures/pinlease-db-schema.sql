-- The schema of <state-dir>/pinlease.db as the current code creates it (DatabaseFormatTests).
-- Regenerate only for a deliberate format change:
-- PINLEASE_UPDATE_SCHEMA=1 swift test --filter DatabaseFormatTests
PRAGMA user_version = 0;
PRAGMA application_id = 0;
PRAGMA journal_mode = wal;
PRAGMA auto_vacuum = 0;
-- table daemon_clock
CREATE TABLE daemon_clock (id INTEGER PRIMARY KEY CHECK (id = 1), alive_at INTEGER NOT NULL);
-- table deliveries
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT, lease_id TEXT NOT NULL, attempt TEXT NOT NULL);
-- index deliveries_by_lease
CREATE INDEX deliveries_by_lease ON deliveries (lease_id, id);
-- table events
CREATE TABLE events (
    seq INTEGER PRIMARY KEY, type TEXT NOT NULL, timestamp TEXT NOT NULL, holder TEXT, data TEXT NOT NULL);
-- table leases
CREATE TABLE leases (
    id TEXT PRIMARY KEY, pin_id TEXT NOT NULL, root TEXT NOT NULL, relative_path TEXT NOT NULL,
    holder TEXT NOT NULL, state TEXT NOT NULL, ttl_s INTEGER NOT NULL, grace_s INTEGER NOT NULL,
    webhook_url TEXT, webhook_secret TEXT, holder_uid INTEGER, auto_pin INTEGER NOT NULL,
    granted_at INTEGER NOT NULL, renewed_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
    reason TEXT, deadline INTEGER, ended_at INTEGER);
-- table locked_files
CREATE TABLE locked_files (
    path TEXT PRIMARY KEY, root TEXT NOT NULL, relative_path TEXT NOT NULL,
    device INTEGER NOT NULL, inode INTEGER NOT NULL, flag_set_by_daemon INTEGER NOT NULL,
    phase TEXT NOT NULL, locked_at TEXT NOT NULL, writers TEXT NOT NULL DEFAULT 'none', violation TEXT);
-- table operations
CREATE TABLE operations (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, path TEXT NOT NULL, state TEXT NOT NULL,
    done_bytes INTEGER NOT NULL, total_bytes INTEGER NOT NULL, created_at TEXT NOT NULL,
    finished_at TEXT, result TEXT, error TEXT);
-- table pins
CREATE TABLE pins (
    id TEXT PRIMARY KEY, root TEXT NOT NULL, relative_path TEXT NOT NULL,
    device INTEGER NOT NULL, inode INTEGER NOT NULL, offset INTEGER NOT NULL, length INTEGER NOT NULL,
    access TEXT NOT NULL, longterm TEXT NOT NULL, auto_pin INTEGER NOT NULL, created_at TEXT NOT NULL);
-- index sqlite_autoindex_leases_1 on leases (made by SQLite for a key)
-- index sqlite_autoindex_locked_files_1 on locked_files (made by SQLite for a key)
-- index sqlite_autoindex_operations_1 on operations (made by SQLite for a key)
-- index sqlite_autoindex_pins_1 on pins (made by SQLite for a key)
-- index sqlite_autoindex_webhook_outbox_1 on webhook_outbox (made by SQLite for a key)
-- table sqlite_sequence
CREATE TABLE sqlite_sequence(name,seq);
-- table webhook_outbox
CREATE TABLE webhook_outbox (
    id TEXT PRIMARY KEY, lease_id TEXT NOT NULL, event TEXT NOT NULL, url TEXT NOT NULL, body TEXT NOT NULL,
    retry_until INTEGER NOT NULL, attempts_after INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER, finished_at INTEGER, outcome TEXT);
-- index webhook_outbox_by_lease
CREATE INDEX webhook_outbox_by_lease ON webhook_outbox (lease_id);
-- index webhook_outbox_pending
CREATE INDEX webhook_outbox_pending ON webhook_outbox (finished_at) WHERE finished_at IS NULL;
