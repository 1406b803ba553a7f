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

# A conversation's scope level, derived from the ids it is bound to (a conversation is bound to the scope of its first
# write: USER when it names a user, CUSTOMER when only a customer, else CLIENT), so that ``_sql.scope_filter`` scopes
# the conversations table like every other (deletion of a user, a customer subtree, an instance). Same on both.
_CONVERSATION_LEVEL = "CASE WHEN user_id <> '' THEN 'user' WHEN customer_id <> '' THEN 'customer' ELSE 'client' END"

SQLITE.append(
    (
        2,
        f"""
ALTER TABLE conversations ADD COLUMN level TEXT GENERATED ALWAYS AS ({_CONVERSATION_LEVEL}) VIRTUAL;
CREATE INDEX conversations_scope ON conversations(instance_id, customer_id, level, user_id)
""",
    )
)

# Attempts that raised, apart from claims (``attempts``): a job whose worker died is claimed again however often that
# happens, and only raised attempts count against ``max_attempts``.
SQLITE.append((3, "ALTER TABLE ingestions ADD COLUMN failures INTEGER NOT NULL DEFAULT 0"))

# Versions of a conversation's compaction (service/compaction.py). At most one ``in_progress`` row per conversation:
# the partial unique index is the lock a second, concurrent compaction runs into. Erased with the conversation.
_COMPACTIONS = """
CREATE TABLE compactions (
    instance_id {text} NOT NULL,
    conversation_id {text} NOT NULL,
    version {int} NOT NULL,
    compaction_id {text} NOT NULL,
    strategy {text} NOT NULL,
    trigger_type {text} NOT NULL,
    status {text} NOT NULL,
    created_at {ts} NOT NULL,
    completed_at {ts},
    message_count {int} NOT NULL DEFAULT 0,
    original_tokens {int} NOT NULL DEFAULT 0,
    compacted_tokens {int} NOT NULL DEFAULT 0,
    compression_ratio {real},
    validation_score {real},
    body {json} NOT NULL DEFAULT '{{}}',
    error_message {text},
    PRIMARY KEY (instance_id, conversation_id, version)
);
CREATE UNIQUE INDEX compactions_id ON compactions (instance_id, compaction_id);
CREATE UNIQUE INDEX compactions_running ON compactions (instance_id, conversation_id) WHERE status = 'in_progress';
"""
SQLITE.append((4, _COMPACTIONS.format(text="TEXT", int="INTEGER", ts="TEXT", real="REAL", json="TEXT")))

# PostgreSQL (store/postgres.py; design in docs/postgres.md). Each entry runs as ONE multi-statement transaction,
# under an advisory lock, as the login role of the DSN (the schema owner). Roles: ``tenantry_app`` (tenant paths,
# subject to the row-level-security policies keyed on ``tenantry.instance_id``) and ``tenantry_admin`` (instances,
# API keys, queue claiming across instances). Every store transaction runs under ``SET LOCAL ROLE`` one of them, and
# every table has FORCE ROW LEVEL SECURITY, so neither a superuser login nor the table owner bypasses the policies.
# ``(instance_id, customer_id)`` lead every tenant key; ``instance_id`` is the Citus distribution column.
POSTGRES_APP_ROLE = "tenantry_app"
POSTGRES_ADMIN_ROLE = "tenantry_admin"
POSTGRES_TENANT_TABLES = (
    "scopes",
    "documents",
    "ingestions",
    "memories",
    "conversations",
    "messages",
    "transcripts",
    "audit_log",
    "compactions",
)
POSTGRES_ADMIN_TABLES = ("instances", "api_keys")
POSTGRES_RLS_TABLES = (*POSTGRES_TENANT_TABLES, *POSTGRES_ADMIN_TABLES, "vector_indexes")  # every table but
# schema_migrations has row-level security enabled and forced

POSTGRES: list[tuple[int, str]] = [
    (
        1,
        """
-- Only when missing: on Citus, even a no-op CREATE EXTENSION is propagated to the workers (and needs ownership).
DO $vector$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') THEN
        CREATE EXTENSION vector;
    END IF;
END
$vector$;

DO $roles$
DECLARE r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['tenantry_app', 'tenantry_admin'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN NOINHERIT', r);
            EXCEPTION WHEN duplicate_object THEN NULL;  -- created concurrently (roles are cluster-wide)
            END;
        END IF;
        IF current_setting('server_version_num')::int >= 160000 THEN
            IF NOT pg_has_role(current_user, r, 'SET') THEN
                -- SET (to switch to it per transaction) but not INHERIT: the login role itself gets no policy.
                EXECUTE format('GRANT %I TO %I WITH INHERIT FALSE, SET TRUE', r, current_user);
            END IF;
        ELSIF NOT pg_has_role(current_user, r, 'MEMBER') THEN
            EXECUTE format('GRANT %I TO %I', r, current_user);
        END IF;
    END LOOP;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO tenantry_app, tenantry_admin', current_schema());
END
$roles$;

CREATE TABLE instances (
    instance_id text PRIMARY KEY,
    name text NOT NULL UNIQUE,
    relationship text NOT NULL CHECK (relationship IN ('b2b', 'b2c')),
    client_id text NOT NULL,
    created_at timestamptz NOT NULL,
    archived boolean NOT NULL DEFAULT false,
    embedder text,
    dimensions integer,
    config jsonb NOT NULL DEFAULT '{}'
);

CREATE TABLE api_keys (
    instance_id text NOT NULL REFERENCES instances (instance_id),
    key_id text NOT NULL,
    name text NOT NULL DEFAULT '',
    key_hash text NOT NULL,
    prefix text NOT NULL,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz,
    last_used_at timestamptz,
    PRIMARY KEY (instance_id, key_id)
);
CREATE UNIQUE INDEX api_keys_hash ON api_keys (key_hash);
CREATE UNIQUE INDEX api_keys_key_id ON api_keys (key_id);

CREATE TABLE scopes (
    instance_id text NOT NULL,
    customer_id text NOT NULL,
    level text NOT NULL,
    user_id text NOT NULL,
    version bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (instance_id, customer_id, level, user_id)
);

CREATE TABLE documents (
    instance_id text NOT NULL,
    customer_id text NOT NULL,
    level text NOT NULL,
    user_id text NOT NULL,
    document_id text NOT NULL,
    document_type text NOT NULL,
    content text NOT NULL,
    content_hash text NOT NULL,
    document_created_at timestamptz,
    conversation_id text,
    created_at timestamptz NOT NULL,
    metadata jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (instance_id, customer_id, level, user_id, document_id)
);

CREATE TABLE ingestions (
    instance_id text NOT NULL,
    customer_id text NOT NULL,
    level text NOT NULL,
    user_id text NOT NULL,
    ingestion_id text NOT NULL,
    document_id text NOT NULL,
    content_hash text NOT NULL,
    kind text NOT NULL DEFAULT 'memory',
    status text NOT NULL,
    payload jsonb NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    claim text,
    lease_until timestamptz,
    queued_at timestamptz NOT NULL,
    started_at timestamptz,
    completed_at timestamptz,
    memory_ids jsonb NOT NULL DEFAULT '[]',
    error_message text,
    PRIMARY KEY (instance_id, ingestion_id),
    UNIQUE (instance_id, customer_id, level, user_id, document_id)
);
-- The queue's own indexes (claiming spans instances; see docs/postgres.md, "queue").
CREATE INDEX ingestions_ready ON ingestions (queued_at) WHERE status = 'queued';
CREATE INDEX ingestions_leased ON ingestions (lease_until) WHERE status = 'processing';
CREATE INDEX ingestions_by_id ON ingestions (ingestion_id);

CREATE TABLE memories (
    instance_id text NOT NULL,
    customer_id text NOT NULL,
    level text NOT NULL,
    user_id text NOT NULL,
    rowid bigint GENERATED ALWAYS AS IDENTITY,
    memory_id text NOT NULL,
    memory_type text NOT NULL,
    content text NOT NULL,
    content_hash text NOT NULL,
    category text,
    confidence double precision NOT NULL,
    event_date timestamptz,
    valid_until timestamptz,
    temporal_category text,
    source_evidence jsonb NOT NULL DEFAULT '[]',
    entities jsonb NOT NULL DEFAULT '[]',
    subject text,
    attribute text,
    metadata jsonb NOT NULL DEFAULT '{}',
    document_id text,
    conversation_id text,
    ingestion_id text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz,
    superseded_by text,
    mention_count integer NOT NULL DEFAULT 1,
    dims smallint NOT NULL,
    embedding vector NOT NULL,
    fts_text text NOT NULL,
    fts tsvector GENERATED ALWAYS AS (to_tsvector('english'::regconfig, fts_text)) STORED,
    PRIMARY KEY (instance_id, customer_id, rowid)
);
CREATE UNIQUE INDEX memories_memory_id ON memories (instance_id, memory_id);
CREATE INDEX memories_rowid ON memories (instance_id, rowid);
CREATE INDEX memories_scope ON memories (instance_id, customer_id, level, user_id, memory_type);
CREATE INDEX memories_attribute ON memories (instance_id, customer_id, level, user_id, attribute)
    WHERE attribute IS NOT NULL;
CREATE INDEX memories_fts ON memories USING gin (fts);

CREATE TABLE conversations (
    instance_id text NOT NULL,
    conversation_id text NOT NULL,
    customer_id text NOT NULL,
    user_id text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (instance_id, conversation_id)
);
CREATE INDEX conversations_customer ON conversations (instance_id, customer_id, user_id);

CREATE TABLE messages (
    instance_id text NOT NULL,
    conversation_id text NOT NULL,
    message_pk bigint GENERATED ALWAYS AS IDENTITY,
    message_id text NOT NULL,
    role text NOT NULL,
    content text NOT NULL,
    session_id text,
    metadata jsonb NOT NULL DEFAULT '{}',
    recorded_at timestamptz NOT NULL,
    PRIMARY KEY (instance_id, conversation_id, message_pk)
);
CREATE UNIQUE INDEX messages_message_id ON messages (instance_id, message_id);

CREATE TABLE transcripts (
    instance_id text NOT NULL,
    conversation_id text NOT NULL,
    digest text NOT NULL,
    ingestion_id text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (instance_id, conversation_id)
);

CREATE TABLE audit_log (
    instance_id text NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    at timestamptz NOT NULL,
    action text NOT NULL,
    detail jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (instance_id, id)
);

-- Row-level security: a second guard behind the scope filter. FORCE makes it apply to the table owner too.
DO $rls$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['scopes', 'documents', 'ingestions', 'memories', 'conversations', 'messages',
                             'transcripts', 'audit_log', 'instances', 'api_keys'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    END LOOP;
    FOREACH t IN ARRAY ARRAY['scopes', 'documents', 'ingestions', 'memories', 'conversations', 'messages',
                             'transcripts', 'audit_log'] LOOP
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I FOR ALL TO tenantry_app '
            'USING (instance_id = current_setting(''tenantry.instance_id'', true)) '
            'WITH CHECK (instance_id = current_setting(''tenantry.instance_id'', true))', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO tenantry_app', t);
    END LOOP;
END
$rls$;
-- WORLD knowledge (instance '__world__') is readable by every instance, writable only by a session set to it.
CREATE POLICY world_read ON memories FOR SELECT TO tenantry_app USING (instance_id = '__world__');
CREATE POLICY world_read ON documents FOR SELECT TO tenantry_app USING (instance_id = '__world__');
-- Admin paths: instances and keys, and the queue (claim / fail / count across instances). No memory access.
CREATE POLICY admin_all ON instances FOR ALL TO tenantry_admin USING (true) WITH CHECK (true);
CREATE POLICY admin_all ON api_keys FOR ALL TO tenantry_admin USING (true) WITH CHECK (true);
CREATE POLICY admin_queue ON ingestions FOR ALL TO tenantry_admin USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE ON instances, api_keys TO tenantry_admin;
GRANT SELECT, UPDATE ON ingestions TO tenantry_admin;
""",
    ),
]

POSTGRES.append(
    (
        2,
        """
-- Partitions (one scope of one instance) large enough to get their own partial HNSW index (created by
-- ``tenantry db index-partitions`` / ``PostgresStore.create_partition_index``; searched with iterative scan).
CREATE TABLE vector_indexes (
    instance_id text NOT NULL,
    customer_id text NOT NULL,
    level text NOT NULL,
    user_id text NOT NULL,
    dims integer NOT NULL,
    index_name text NOT NULL,
    rows_at_build bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (instance_id, customer_id, level, user_id, dims)
);
ALTER TABLE vector_indexes ENABLE ROW LEVEL SECURITY;
ALTER TABLE vector_indexes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_read ON vector_indexes FOR SELECT TO tenantry_app
    USING (instance_id = current_setting('tenantry.instance_id', true) OR instance_id = '__world__');
CREATE POLICY admin_all ON vector_indexes FOR ALL TO tenantry_admin USING (true) WITH CHECK (true);
GRANT SELECT ON vector_indexes TO tenantry_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON vector_indexes TO tenantry_admin;
""",
    )
)

POSTGRES.append(
    (
        3,
        f"""
ALTER TABLE conversations ADD COLUMN level text GENERATED ALWAYS AS ({_CONVERSATION_LEVEL}) STORED;
""",
    )
)

POSTGRES.append((4, "ALTER TABLE ingestions ADD COLUMN failures integer NOT NULL DEFAULT 0;"))

# Ready for Citus (docs/postgres.md, "Citus"). The two roles may log in: Citus opens its connections to the workers
# as the current role, so a NOLOGIN role cannot run a distributed query. They still have no password: how they
# authenticate on the workers is the cluster's pg_hba.conf / .pgpass. Where this role may not alter them (roles
# created by a superuser), plain PostgreSQL works as before: `tenantry db check` says what to run before
# `tenantry db distribute`.
_PG_LOGIN_ROLES = """
DO $login$
DECLARE r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['tenantry_app', 'tenantry_admin'] LOOP
        IF NOT (SELECT rolcanlogin FROM pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE format('ALTER ROLE %I LOGIN', r);
            EXCEPTION WHEN insufficient_privilege THEN
                RAISE WARNING 'tenantry: role % stays NOLOGIN (%); a superuser must run ALTER ROLE % LOGIN '
                    'before the database is distributed with Citus', r, SQLERRM, r;
            END;
        END IF;
    END LOOP;
END
$login$;
"""
POSTGRES.append(
    (
        5,
        _PG_LOGIN_ROLES
        + """
-- Every unique key of a table that `tenantry db distribute --by customer` spreads by customer_id includes it.
DROP INDEX memories_memory_id;
CREATE UNIQUE INDEX memories_memory_id ON memories (instance_id, customer_id, memory_id);
""",
    )
)

# The distributed layout (``tenantry db distribute``; the schema-rule tests check every key against it). Tenant
# tables are hash-distributed and co-located by ``instance_id`` (``--by instance``, the default), or — ``--by
# customer``, which spreads one large instance over the cluster — the tables keyed by scope by ``customer_id`` and
# the conversation tables, whose keys do not name a customer, still by ``instance_id``. Instances and keys are
# reference tables (a copy on every node). The queue stays on the coordinator: claiming across instances with
# ``FOR UPDATE SKIP LOCKED`` cannot run on a distributed table.
POSTGRES_REFERENCE_TABLES = ("instances", "api_keys")
POSTGRES_LOCAL_TABLES = ("ingestions",)
POSTGRES_BY_CUSTOMER = ("memories", "scopes", "documents", "vector_indexes")
POSTGRES_DISTRIBUTION: dict[str, dict[str, str]] = {
    "instance": {t: "instance_id" for t in (*POSTGRES_TENANT_TABLES, "vector_indexes") if t != "ingestions"},
    "customer": {
        t: ("customer_id" if t in POSTGRES_BY_CUSTOMER else "instance_id")
        for t in (*POSTGRES_TENANT_TABLES, "vector_indexes")
        if t != "ingestions"
    },
}

# Conversation compactions. Written to be re-run: before the Citus migration (5) was merged, main numbered this one 5,
# so a database migrated then has it already (and lacks 5, which migration 7 repeats).
POSTGRES.append(
    (
        6,
        _COMPACTIONS.format(text="text", int="integer", ts="timestamptz", real="double precision", json="jsonb")
        .replace("CREATE TABLE compactions", "CREATE TABLE IF NOT EXISTS compactions")
        .replace("CREATE UNIQUE INDEX", "CREATE UNIQUE INDEX IF NOT EXISTS")
        + """
ALTER TABLE compactions ENABLE ROW LEVEL SECURITY;
ALTER TABLE compactions FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON compactions;
CREATE POLICY tenant_isolation ON compactions FOR ALL TO tenantry_app
    USING (instance_id = current_setting('tenantry.instance_id', true))
    WITH CHECK (instance_id = current_setting('tenantry.instance_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON compactions TO tenantry_app;
""",
    )
)

# Migration 5 again, for a database that recorded 5 when 5 was the compactions table (see 6); a no-op elsewhere.
POSTGRES.append(
    (
        7,
        _PG_LOGIN_ROLES
        + """
DO $rekey$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = ANY (x.indkey)
        WHERE i.relname = 'memories_memory_id' AND i.relnamespace = current_schema()::regnamespace
          AND a.attname = 'customer_id'
    ) THEN
        DROP INDEX IF EXISTS memories_memory_id;
        CREATE UNIQUE INDEX memories_memory_id ON memories (instance_id, customer_id, memory_id);
    END IF;
END
$rekey$;
""",
    )
)
