-- Migration 8:
-- a source's shared secret (encrypted, like tokens): when set, `/v1/webhook` requires Segment's
-- X-Signature HMAC (src/server/webhook/signature.ts).
ALTER TABLE sources ADD COLUMN shared_secret TEXT;
