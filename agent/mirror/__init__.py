"""Rite V, the Mirror: a review of a connection's logs by another model (review), the request it sends (request), the report it parses (report), the budget (settings), and `mirari mirror`."""
