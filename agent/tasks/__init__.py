"""Tasks: the board of a connection's tasks (board) and `mirari tasks`."""
