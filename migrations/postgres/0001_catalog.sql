-- The catalog: one row per entity, keyed by its lower-cased ref `kind:namespace/name`.
-- `source` is the configured path the entity came from; a sync replaces that source's rows in one
-- transaction. `body` is the whole descriptor document as JSON text (kept verbatim, so its hash is
-- stable), `hash` is SHA-256 of it so an unchanged re-sync can skip the row.
CREATE TABLE catalog_entities (
    entity_ref  TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    namespace   TEXT NOT NULL,
    name        TEXT NOT NULL,
    source      TEXT NOT NULL,
    location    TEXT NOT NULL,
    hash        TEXT NOT NULL,
    body        TEXT NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX catalog_entities_source ON catalog_entities (source);

-- One row. `generation` grows by one with every sync that changed something; every replica polls
-- it and rebuilds its in-memory snapshot when it moves.
CREATE TABLE catalog_state (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    generation  BIGINT NOT NULL,
    synced_at   TIMESTAMPTZ
);
INSERT INTO catalog_state (id, generation, synced_at) VALUES (1, 0, NULL);
