"""Templates: publishing your own (publish), the shared document format (payload), installing one (install, match, text), and `mirari templates`."""
