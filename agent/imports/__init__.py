"""Import conversations from other apps' exports: ChatGPT's "Export data" and Claude's export.

`source` streams one conversation at a time out of the ZIP or the bare conversations.json (never the
whole file in memory); `chatgpt` and `claude` turn one parsed conversation into an `ImportedThread`
(the tree of messages to keep, already cleaned and bounded); `writer` stores one thread per
transaction under deterministic ids (`ids`), so a re-import adds nothing; `run` is the long job
(progress, Cancel) that the command line (`cli`) and the window's File → Import… both run.
"""
