"""A PostgreSQL server for the benchmarks that need one: ``--pg-url`` (an existing
server; each benchmark makes databases on it) or a local one started with ``pgserver``
(PostgreSQL 16 from the package index; as root it runs as a system user it creates)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def databases(url: str | None, folder: str):
    """A function: name -> URL of a new empty database on the server."""
    import psycopg

    server = None
    if url is None:
        import pgserver

        server = pgserver.get_server(folder, cleanup_mode="delete")
        url = server.get_uri()

    def new(name: str) -> str:
        with psycopg.connect(url, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}"')
            c.execute(f'CREATE DATABASE "{name}"')
        if server is not None:
            return server.get_uri(name)
        p = urlsplit(url)
        return urlunsplit((p.scheme, p.netloc, "/" + name, p.query, p.fragment))

    new.server = server
    return new
