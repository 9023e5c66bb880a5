"""The console's pure rules: queue filters, SLA countdowns, the change calendar, what a role may see and do,
and API refusals in words. No I/O, no HTTP."""
