"""The signed, hash-chained event log. Knows nothing of projects: topics, payloads, signatures."""
