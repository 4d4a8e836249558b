"""The screens (rites) and their dialogs."""
