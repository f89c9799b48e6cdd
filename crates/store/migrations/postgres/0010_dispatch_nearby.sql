-- Duplicate-call suggestions look for open incidents within a few hundred
-- metres and half an hour of a new call (Store::open_incidents_near). Only
-- open incidents are candidates, so the index holds only those: a range on
-- lat with lng and created_at checked inside the index, and closed incidents
-- leave it as they close.
CREATE INDEX IF NOT EXISTS incidents_open_near ON incidents (lat, lng, created_at) WHERE closed_at IS NULL;
