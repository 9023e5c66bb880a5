-- The tier the incident had when its clock started. A response breach escalates one tier above it (the tier
-- that owed the response), so a policy step falling due at the same moment cannot make it two tiers.
ALTER TABLE sla_clocks ADD COLUMN started_tier smallint;
UPDATE sla_clocks SET started_tier = tier;
ALTER TABLE sla_clocks ALTER COLUMN started_tier SET NOT NULL;
