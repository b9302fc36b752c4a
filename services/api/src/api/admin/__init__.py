"""`messaging-admin`, the operator's program: loyalty clubs and API clients, member imports, the demo, and
following a sending's progress. A program of its own beside the web api: it reaches the database directly
(`admin.db`), keeps its SQL in `admin.repository`, and only its entry point (`admin.cli.main`) turns an
`AdminError` into one line on stderr and exit code 1."""
