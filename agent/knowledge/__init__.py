"""Knowledge folders: folders of text, Markdown, code and PDF files indexed on this device with SQLite FTS5
(BM25), searched for passages with their file and lines, and the passages a turn can be given.

Device-local, never synced. A set (name, folder) is a row of the database's `knowledge_sets`; its index
is a SQLite file of its own beside the database (store), built by a separate process (worker → build).
Modules: files (which files, their text), chunking (text → passages with line numbers), store (the
index file), build (the indexing pass), worker (the indexing process), index (sets: add, reindex,
remove, list), search (passages, the top passages for a turn), ranking (BM25 with a whole set's
statistics across its shards), errors, cli.
"""
