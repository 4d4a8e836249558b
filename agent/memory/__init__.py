"""Rite III, the Memory Atlas: facts and their rules (atlas), where they came from (sources), the text of a fact (text), and `mirari memory`."""
