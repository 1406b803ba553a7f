"""Versioned schema migrations. Each backend has its own ordered list of (version, statements); applied ones are
recorded in ``schema_migrations``. The two schemas share their shape: ``(instance_id, customer_id)`` lead every key."""

from __future__ import annotations

SQLITE: list[tuple[int, str]] = [
    (
        1,
        """
CREATE TABLE instances (
    instance_id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    relationship TEXT NOT NULL CHECK (relationship IN ('b2b', 'b2c')),
    client_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    archived INTEGER NOT NULL DEFAULT 0,
    embedder TEXT,
    dimensions INTEGER,
    config TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE api_keys (
    key_id TEXT PRIMARY KEY,
    instance_id TEXT NOT NULL REFERENCES instances(instance_id),
    name TEXT NOT NULL DEFAULT '',
    key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    last_used_at TEXT
);
CREATE INDEX api_keys_instance ON api_keys(instance_id);
CREATE TABLE scopes (
    scope_key INTEGER PRIMARY KEY,
    instance_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    level TEXT NOT NULL,
    user_id TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 0,
    UNIQUE (instance_id, customer_id, level, user_id)
);
CREATE TABLE documents (
    doc_pk INTEGER PRIMARY KEY,
    instance_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    level TEXT NOT NULL,
    user_id TEXT NOT NULL,
    document_id TEXT NOT NULL,
    document_type TEXT NOT NULL,
    content TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    document_created_at TEXT,
    conversation_id TEXT,
    created_at TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    UNIQUE (instance_id, customer_id, level, user_id, document_id)
);
CREATE TABLE ingestions (
    ingestion_id TEXT PRIMARY KEY,
    instance_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    level TEXT NOT NULL,
    user_id TEXT NOT NULL,
    document_id TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'memory',
    status TEXT NOT NULL,
    payload TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    claim TEXT,
    lease_until REAL,
    queued_at TEXT NOT NULL,
    started_at TEXT,
    completed_at TEXT,
    memory_ids TEXT NOT NULL DEFAULT '[]',
    error_message TEXT,
    UNIQUE (instance_id, customer_id, level, user_id, document_id)
);
CREATE INDEX ingestions_ready ON ingestions(status, queued_at);
CREATE TABLE memories (
    rowid INTEGER PRIMARY KEY,
    memory_id TEXT NOT NULL UNIQUE,
    instance_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    level TEXT NOT NULL,
    user_id TEXT NOT NULL,
    scope_key INTEGER NOT NULL REFERENCES scopes(scope_key),
    memory_type TEXT NOT NULL,
    content TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    category TEXT,
    confidence REAL NOT NULL,
    event_date TEXT,
    valid_until TEXT,
    temporal_category TEXT,
    source_evidence TEXT NOT NULL DEFAULT '[]',
    entities TEXT NOT NULL DEFAULT '[]',
    subject TEXT,
    attribute TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    document_id TEXT,
    conversation_id TEXT,
    ingestion_id TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT,
    superseded_by TEXT,
    mention_count INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX memories_scope ON memories(instance_id, customer_id, level, user_id, memory_type);
CREATE INDEX memories_scope_key ON memories(scope_key);
CREATE INDEX memories_attribute ON memories(scope_key, attribute) WHERE attribute IS NOT NULL;
CREATE INDEX memories_hash ON memories(scope_key, content_hash);
CREATE TABLE memory_vectors (
    rowid INTEGER PRIMARY KEY,
    scope_key INTEGER NOT NULL,
    vec BLOB NOT NULL
);
CREATE INDEX memory_vectors_scope ON memory_vectors(scope_key);
CREATE VIRTUAL TABLE memories_fts USING fts5(
    content, skey, mtype, tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TABLE conversations (
    instance_id TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (instance_id, conversation_id)
);
CREATE TABLE messages (
    message_pk INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL UNIQUE,
    instance_id TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    session_id TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    recorded_at TEXT NOT NULL
);
CREATE INDEX messages_conversation ON messages(instance_id, conversation_id, message_pk);
CREATE TABLE transcripts (
    instance_id TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    digest TEXT NOT NULL,
    ingestion_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (instance_id, conversation_id)
);
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    instance_id TEXT NOT NULL,
    at TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_instance ON audit_log(instance_id, id);
""",
    ),
]
