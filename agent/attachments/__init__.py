"""Files attached to a turn: reading them (images, text, code, CSV, JSON, PDFs), building the user message's
content parts, keeping them as attachments of a message, and the `mirari attachments` commands.

Modules: settings (attachments.json), reading (a file → what the model can be given, or a clear refusal),
content (the pure function that builds the content parts), store (attachment rows and their bytes), cli.
"""
