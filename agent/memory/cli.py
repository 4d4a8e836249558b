"""`mirari memory add|list|edit|delete|prompt`: the Atlas from the command line, over agent.memory.atlas
(the same functions as the Atlas page). IDs may be given in full or as a unique prefix (lists show 8
characters). `--json` prints the table's columns plus computed fields (effective_strength, glyph,
injected, source_title)."""

from __future__ import annotations

from agent.cli.common import guard, open_db, print_json, resolve_id, short


def register(subparsers) -> None:
    memory = subparsers.add_parser("memory", help="the Memory Atlas: what the agent remembers about you")
    sub = memory.add_subparsers(dest="memory_command", metavar="ACTION", required=True)

    p = sub.add_parser("add", help="add a fact (a duplicate reinforces the existing node instead)")
    p.add_argument("label", metavar="LABEL")
    p.add_argument("--category", default="fact", help="preference, fact, goal, style or any short text "
                                                      "(default: fact)")
    p.add_argument("--strength", default=0.5, help="0..1 (default 0.5; >= 0.75 is injected)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_add)

    p = sub.add_parser("list", help="nodes by effective strength (✶ injected, ◌ 0.4-0.75, · below)")
    p.add_argument("--search", default="", help="only nodes whose label, category or source contains this")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_list)

    p = sub.add_parser("edit", help="change a node's label, category or strength")
    p.add_argument("id", metavar="ID")
    p.add_argument("--label")
    p.add_argument("--category")
    p.add_argument("--strength", help="0..1; decay restarts from now")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_edit)

    p = sub.add_parser("delete", help="delete a node (it stays deleted on every device)")
    p.add_argument("id", metavar="ID")
    p.set_defaults(handler=_delete)

    p = sub.add_parser("prompt", help="print the exact system message a chat turn would send now")
    p.add_argument("--connection", required=True, metavar="ID")
    p.add_argument("--json", action="store_true", help="the message, the memory block, sizes and the nodes "
                                                       "left out by the cap of 40")
    p.set_defaults(handler=_prompt)


def _describe(view) -> str:
    node = view.node
    return f"“{node.label}” ({node.category or 'no category'}, {view.effective:.2f})"


@guard
def _add(args) -> int:
    from agent.memory.atlas import add_node, get_node

    with open_db(args) as db:
        result = add_node(db, args.label, args.category, args.strength)
        view = get_node(db, result.node.id)
    if args.json:
        print_json({"reinforced": result.reinforced, "message": result.message, "node": view.to_json()})
    elif result.reinforced:
        print(f"reinforced {short(view.id)} instead of adding a duplicate: {_describe(view)}")
    else:
        print(f"added {short(view.id)}: {_describe(view)}")
    return 0


@guard
def _list(args) -> int:
    from agent.memory.atlas import list_nodes

    with open_db(args) as db:
        views = list_nodes(db, query=args.search)
    if args.json:
        print_json([v.to_json() for v in views])
        return 0
    if not views:
        print("the Atlas is empty" if not args.search else "no node matches")
        return 0
    width = min(14, max(len(v.node.category or "") for v in views))
    for v in views:
        last = (v.node.last_referenced_at or "")[:10] or "never"
        capped = "; over the cap of 40, not injected" if v.glyph == "✶" and not v.injected else ""
        print(f"{short(v.id)}  {v.glyph} {v.effective:.2f}  {(v.node.category or '-'):<{width}}  {v.node.label}"
              f"  [{v.source_title}; last referenced {last}{capped}]")
    return 0


@guard
def _edit(args) -> int:
    from agent.memory.atlas import edit_node, get_node
    from local_schema.models import MemoryNode

    with open_db(args) as db:
        node_id = resolve_id(db, MemoryNode, args.id, "memory node")
        edit_node(db, node_id, label=args.label, category=args.category, strength=args.strength)
        view = get_node(db, node_id)
    if args.json:
        print_json(view.to_json())
    else:
        print(f"edited {short(view.id)}: {_describe(view)}")
    return 0


@guard
def _delete(args) -> int:
    from agent.memory.atlas import delete_node
    from local_schema.models import MemoryNode

    with open_db(args) as db:
        node_id = resolve_id(db, MemoryNode, args.id, "memory node")
        node = delete_node(db, node_id)
    print(f"deleted {short(node.id)}: “{node.label}” (sync removes it from your other devices)")
    return 0


@guard
def _prompt(args) -> int:
    from agent.prompt import memory_block
    from local_schema.models import AgentConnection

    with open_db(args) as db:
        block = memory_block(db, resolve_id(db, AgentConnection, args.connection, "connection"))
    if args.json:
        print_json({"system": block.system, "memory_block": block.block, "chars": block.chars,
                    "tokens_estimate": block.tokens, "system_chars": block.system_chars,
                    "system_tokens_estimate": block.system_tokens,
                    "injected": [v.id for v in block.injected], "over_cap": [v.to_json() for v in block.over_cap]})
    elif block.system:
        print(block.system)
    return 0
