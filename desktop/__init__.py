"""The Qt GUI. The only package that may import PySide6."""
