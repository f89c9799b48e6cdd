-- A partner agency's API key speaks for one partner (its code, e.g. 12345):
-- its hand-off feedback is accepted only for hand-offs to that partner.
-- NULL for every other key.
ALTER TABLE api_keys ADD COLUMN partner TEXT;
