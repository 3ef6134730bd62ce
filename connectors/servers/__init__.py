"""Bundled read-only MCP servers for the demo company (or a user's own files in the same format).

Each module serves one source family over stdio (default) or streamable HTTP (``--http PORT``):

- ``python -m connectors.servers.erp``  -> ``closeboard-erp``
- ``python -m connectors.servers.bank`` -> ``closeboard-bank``
- ``python -m connectors.servers.crm``  -> ``closeboard-crm``
- ``python -m connectors.servers.beanfile --ledger FILE`` -> ``closeboard-beanfile`` (a beancount
  ledger as the ERP's tools, for ``builtin.erp``)

and exposes ``build_server(data_dir) -> MCPServer`` for in-memory use (``mcp.Client(server)``).
The data root holds ``company.json`` and CSV files per family (see ``specs.TableSpec``).
"""
