"""`mirari stats [--json]`: the Observatory's numbers, keyed by the tile names in snake_case."""

from __future__ import annotations

from agent.cli.common import guard, open_db, print_json


def register(subparsers) -> None:
    p = subparsers.add_parser("stats", help="the Observatory's numbers: connections, messages, skills, tasks, …")
    p.add_argument("--json", action="store_true", help="print one JSON object keyed by the tile names")
    p.set_defaults(handler=_stats)


@guard
def _stats(args) -> int:
    from agent.observatory import stats

    with open_db(args) as db:
        numbers = stats.collect(db)
    if args.json:
        print_json(numbers.tiles)
        return 0
    width = max(len(label) for _key, label in stats.TILES)
    for key, label in stats.TILES:
        print(f"{label:<{width}}  {numbers.tiles[key]}")
    print(f"\nlast {stats.CHART_DAYS} days   messages  new skills")
    for day in numbers.days:
        print(f"{day.day}   {day.messages:>8}  {day.skills:>10}")
    return 0
