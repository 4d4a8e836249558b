"""Dream Mode (rite VII): while you are away the agent reviews itself — and changes nothing without you.

Three dreams: `consolidate` (duplicates, contradictions and weak nodes in the Memory Atlas), `replay`
(re-answer recent turns with today's prompt and judge old vs new) and `stress` (promoted skills'
test cases plus adversarial variations). Each runs as a long job within a budget and stores a
report of findings and proposals; a proposal changes something only when the user accepts it.

Modules: settings (dream.json), gates (when an automatic dream may start), budget, reports (storage),
run (one dream, start to finish), decide (accept / reject), and one module per dream.
"""
