#!/usr/bin/env python3
"""Import benchmark (run by hand; figures go in the closing note, never into asserts).

    .venv/bin/python bench/bench_import.py [--mb 500] [--keep DIR]

1. writes a ChatGPT "Export data" ZIP whose conversations.json is --mb MB (default 500): conversations
   of ~40 turns with a regenerated answer every few turns, a hidden system node, code and image parts,
   plus one conversation of ~30 MB (one very long thread);
2. imports it with `mirari import chatgpt` in a child process and reads the child's peak resident
   memory (ru_maxrss) and wall time;                                             target: peak <= 300 MB
3. imports it again: nothing is added (idempotent), and how long the re-read takes.
Results are printed and saved as JSON under bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "while", "seven", "wizards", "quietly", "pack", "boxes", "of", "liquor", "and", "jugs;", "sphinx", "of", "black", "quartz", "judge", "my", "vow"]


def _text(rng: random.Random, chars: int) -> str:
    out, size = [], 0
    while size < chars:
        word = rng.choice(WORDS)
        out.append(word)
        size += len(word) + 1
    return " ".join(out)


def _node(node_id, parent, children, role, content, t, model=None, hidden=False):
    metadata = {"model_slug": model, "finish_details": {"type": "stop"}} if model else {}
    if hidden:
        metadata["is_visually_hidden_from_conversation"] = True
    return {"id": node_id, "parent": parent, "children": children, "message": {
        "id": node_id, "author": {"role": role, "name": None, "metadata": {}}, "create_time": t,
        "update_time": None, "content": content, "status": "finished_successfully", "end_turn": True,
        "weight": 1.0, "metadata": metadata, "recipient": "all"}}


def conversation(rng: random.Random, index: int, turns: int, chars: int, start: float = 1_600_000_000) -> dict:
    """One conversation: root → hidden system → turns of user/assistant, a sibling answer every 5th turn."""
    t0 = start + index * 3600.0
    cid = f"conv-{index:06d}"
    mapping = {"root": {"id": "root", "parent": None, "children": ["sys"], "message": None}}
    mapping["sys"] = _node("sys", "root", [], "system", {"content_type": "text", "parts": [""]}, t0, hidden=True)
    parent, t = "sys", t0
    for turn in range(turns):
        q, a = f"{cid}-q{turn}", f"{cid}-a{turn}"
        t += 30
        if turn % 7 == 3:
            content = {"content_type": "multimodal_text", "parts": [
                {"content_type": "image_asset_pointer", "asset_pointer": "file-service://file-x"},
                _text(rng, chars // 4)]}
        else:
            content = {"content_type": "text", "parts": [_text(rng, chars // 4)]}
        mapping[q] = _node(q, parent, [a], "user", content, t)
        mapping[parent]["children"].append(q)
        if turn % 6 == 5:
            answer = {"content_type": "code", "language": "python", "text": _text(rng, chars)}
        else:
            answer = {"content_type": "text", "parts": [_text(rng, chars)]}
        mapping[a] = _node(a, q, [], "assistant", answer, t + 5, model="gpt-4o")
        if turn % 5 == 2:  # a regenerated answer: a sibling that the chain does not continue from
            alt = f"{cid}-a{turn}b"
            mapping[alt] = _node(alt, q, [], "assistant", {"content_type": "text", "parts": [_text(rng, chars)]},
                                 t + 9, model="gpt-4")
            mapping[q]["children"].append(alt)
        parent = a
    return {"id": cid, "conversation_id": cid, "title": f"Benchmark conversation {index}", "create_time": t0,
            "update_time": t, "current_node": parent, "default_model_slug": "gpt-4o", "mapping": mapping,
            "is_archived": False, "moderation_results": [], "safe_urls": []}


def write_export(path: Path, megabytes: int, seed: int = 7) -> dict:
    rng = random.Random(seed)
    target = megabytes * 1024 * 1024
    written = count = 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("user.json", json.dumps({"id": "user-bench"}))
        with archive.open("conversations.json", "w", force_zip64=True) as member:
            member.write(b"[")
            while written < target:
                big = count == 10  # one very long thread (~30 MB) among the ordinary ones
                item = conversation(rng, count, 1500 if big else 40, 16_000 if big else 1600)
                data = json.dumps(item, ensure_ascii=False).encode()
                member.write((b"," if count else b"") + data)
                written += len(data) + 1
                count += 1
            member.write(b"]")
    return {"conversations": count, "json_bytes": written + 2, "zip_bytes": path.stat().st_size}


def run_import(data_dir: Path, export: Path) -> dict:
    code = ("import resource, sys, time\n"
            f"sys.path.insert(0, {str(ROOT)!r})\n"
            "from mirari.main import main\n"
            "start = time.perf_counter()\n"
            f"rc = main(['--data-dir', {str(data_dir)!r}, 'import', 'chatgpt', {str(export)!r}, '--json'])\n"
            "print('SECONDS', time.perf_counter() - start, file=sys.stderr)\n"
            "print('MAXRSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
            "sys.exit(rc)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    if proc.returncode:
        raise SystemExit(f"import failed: {proc.stderr.strip()}")
    figures = dict(line.split(" ", 1) for line in proc.stderr.splitlines() if line.startswith(("SECONDS", "MAXRSS")))
    return {"wall_s": round(wall, 1), "import_s": round(float(figures["SECONDS"]), 1),
            "peak_rss_mb": round(int(figures["MAXRSS_KB"]) / 1024, 1), "summary": json.loads(proc.stdout)[0]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=500, help="size of conversations.json in MB")
    parser.add_argument("--keep", help="a folder for the export and the data dir (default: a temp dir)")
    args = parser.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="mirari-bench-import-"))
    work.mkdir(parents=True, exist_ok=True)
    export = work / "chatgpt-export.zip"
    started = time.perf_counter()
    shape = write_export(export, args.mb)
    shape["generate_s"] = round(time.perf_counter() - started, 1)
    print("export:", shape, flush=True)
    first = run_import(work / "data", export)
    print("first import:", first, flush=True)
    again = run_import(work / "data", export)
    print("re-import:", again, flush=True)
    database = next((work / "data").glob("*.sqlite3"))
    result = {"export": shape, "first": first, "again": again, "database_mb": round(database.stat().st_size / 2**20, 1),
              "python": sys.version.split()[0], "at": time.strftime("%Y-%m-%dT%H:%M:%S")}
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "bench_import.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
