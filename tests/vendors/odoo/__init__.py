"""A local stand-in for an Odoo database, for running the real mcp-server-odoo against (issue 14)."""
