-- The MCP calls of a run (arguments redacted), registered as _calls.
insert into connector_calls (run_id, source, tool, arguments, page, items, bytes, duration_ms, status, error, called_at, session_ms)
select run_id, source, tool, arguments, page, items, bytes, duration_ms, status, error, called_at, session_ms
from _calls
