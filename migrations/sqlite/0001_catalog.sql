-- The catalog: one row per entity, keyed by its lower-cased ref `kind:namespace/name`.
-- `source` is the configured path the entity came from; a sync replaces that source's rows in one
-- transaction. `body` is the whole descriptor document as JSON, so nothing the file said is lost.
-- `hash` (SHA-256 of `body`) lets an unchanged re-sync skip the row.
CREATE TABLE catalog_entities (
    entity_ref  TEXT PRIMARY KEY NOT NULL,
    kind        TEXT NOT NULL,
    namespace   TEXT NOT NULL,
    name        TEXT NOT NULL,
    source      TEXT NOT NULL,
    location    TEXT NOT NULL,
    hash        TEXT NOT NULL,
    body        TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX catalog_entities_source ON catalog_entities (source);

-- One row. `generation` grows by one with every sync that changed something; replicas poll it and
-- rebuild their in-memory snapshot when it moves.
CREATE TABLE catalog_state (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    generation  INTEGER NOT NULL,
    synced_at   TEXT
);
INSERT INTO catalog_state (id, generation, synced_at) VALUES (1, 0, NULL);
