-- Migration 4:
-- events are routed in the transaction that records them: no "unrouted" rows to find
DROP INDEX events_unrouted;
