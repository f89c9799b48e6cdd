-- The verifiable case log (crates/ledger): entries, C2SP hash tiles, signed
-- checkpoints, and the private salts behind the published commitments.

CREATE TABLE IF NOT EXISTS ledger_entries (
    idx INTEGER PRIMARY KEY,
    data BLOB NOT NULL,
    leaf_hash BLOB NOT NULL
);

-- One row per C2SP hash tile; the partial right-edge tile of each level is
-- rewritten as it grows. WITHOUT ROWID: the key is the only index needed.
CREATE TABLE IF NOT EXISTS ledger_tiles (
    level INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    width INTEGER NOT NULL,
    hashes BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS ledger_checkpoints (
    size INTEGER PRIMARY KEY,
    root BLOB NOT NULL,
    note TEXT NOT NULL,
    at INTEGER NOT NULL
);

-- Never published: the salt that opens a commitment found in a leaf.
CREATE TABLE IF NOT EXISTS ledger_salts (
    commitment BLOB PRIMARY KEY,
    salt BLOB NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
