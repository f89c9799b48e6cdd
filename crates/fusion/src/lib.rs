//! Data hub library: sources, mappings, ingest, entity resolution, search, profiles.
