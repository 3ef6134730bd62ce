-- How each configured source is reached, registered as _sources (source, adapter, transport, auth_kind).
delete from connector_sources;
insert into connector_sources select source, adapter, transport, auth_kind from _sources;
