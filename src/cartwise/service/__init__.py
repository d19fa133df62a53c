"""The running process: the store's owner, the collector, live KPIs, recommendation serving, keys and sessions."""
