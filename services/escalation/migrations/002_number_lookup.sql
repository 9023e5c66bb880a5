-- The clock API takes an incident's number (ACME-42) as well as its id.
CREATE INDEX sla_clocks_number ON sla_clocks (number);
