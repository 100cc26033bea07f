-- Migration 12: an OAuth state is bound to the browser that started the flow: the SHA-256 of a nonce kept
-- in that browser's cookie (oauth.ts), so a callback link from someone else's flow is refused.
ALTER TABLE oauth_states ADD COLUMN binding TEXT;
