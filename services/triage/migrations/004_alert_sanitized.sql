-- The fields of an alert whose control characters intake replaced with U+FFFD (AlertReceived.sanitized), shown
-- on the incident's alerts; NULL when nothing was replaced (and for alerts from before this version).
ALTER TABLE incident_alerts ADD COLUMN sanitized jsonb;
