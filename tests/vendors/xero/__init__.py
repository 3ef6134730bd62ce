"""A local stand-in for Xero's cloud (identity + Accounting API) for the unmodified xero-mcp-server."""
