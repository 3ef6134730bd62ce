"""The bundled servers' shared machinery, by concern: ``specs`` (tables, limits, argument types),
``store`` (``DataSource``: the CSV tables in memory, paged queries, cursors), ``switches`` (test
switches in ``<data>/_switches.json``) and ``hosting`` (``serve``: stdio or streamable HTTP, the
bearer guard). This module only re-exports them for older imports; import from those modules."""

from connectors.servers.hosting import *  # noqa: F403
from connectors.servers.specs import *  # noqa: F403
from connectors.servers.store import *  # noqa: F403
from connectors.servers.switches import *  # noqa: F403
