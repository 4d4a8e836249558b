"""The Templates page: your own templates, publishing, the shared catalogue."""
