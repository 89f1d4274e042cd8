"""Framework integrations, each optional and importing only honker's public API.

- ``honker.contrib.django``: a backend for Django's Tasks framework
  (``django.tasks``), its worker command and system checks (``honker-py[django]``);
- ``honker.contrib.sqlalchemy``: honker's SQL functions on a SQLAlchemy engine,
  and ``enqueue``/``notify`` inside a Session's transaction (``honker-py[sqlalchemy]``).

See docs/frameworks.md.
"""
