-- The verifiable case log (crates/ledger): entries, C2SP hash tiles, signed
-- checkpoints, and the private salts behind the published commitments.

CREATE TABLE IF NOT EXISTS ledger_entries (
    idx BIGINT PRIMARY KEY,
    data BYTEA NOT NULL,
    leaf_hash BYTEA NOT NULL
);

-- One row per C2SP hash tile; the partial right-edge tile of each level is
-- rewritten as it grows.
CREATE TABLE IF NOT EXISTS ledger_tiles (
    level BIGINT NOT NULL,
    idx BIGINT NOT NULL,
    width BIGINT NOT NULL,
    hashes BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);

CREATE TABLE IF NOT EXISTS ledger_checkpoints (
    size BIGINT PRIMARY KEY,
    root BYTEA NOT NULL,
    note TEXT NOT NULL,
    at BIGINT NOT NULL
);

-- Never published: the salt that opens a commitment found in a leaf.
CREATE TABLE IF NOT EXISTS ledger_salts (
    commitment BYTEA PRIMARY KEY,
    salt BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
