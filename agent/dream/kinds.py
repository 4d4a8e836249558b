"""The three dreams, in the order they take turns: the one list every part uses (the runner, the
command line, the Dream page's menu and list). The server checks the same names
(supabase/migrations/20261130180000_dream_reports.sql)."""

KINDS = ("consolidate", "replay", "stress")
LABELS = {"consolidate": "Consolidate memory", "replay": "Replay recent turns",
          "stress": "Stress-test promoted skills"}
