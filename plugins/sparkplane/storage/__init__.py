"""Where jobs' data lives: the object store's settings and key by reference (``object_store``), the
check of its buckets before a job starts (``check``), and the event log folder (``event_logs``)."""
