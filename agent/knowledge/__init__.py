"""Knowledge folders: folders of text, Markdown, code and PDF files indexed on this device with SQLite FTS5
(BM25), searched for passages with their file and lines, and the passages a turn can be given.

Device-local (local migration v13: knowledge_sets, knowledge_files, knowledge_chunks, knowledge_fts):
never synced, the files are here. Modules: chunking (text → passages with line numbers), index (add,
reindex, remove, list), search (passages, the top passages for a turn), cli.
"""
