"""Noticing commits from any process: the watcher thread and its detectors
(polling ``PRAGMA data_version``, the ``-shm`` change counter, inotify)."""
