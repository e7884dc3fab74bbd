#!/usr/bin/env python3
"""Turns the raw exchanges captured from real Ironic 39 (shared/bench/peer-ironic/samples/*.txt,
written by capture_samples.sh) into one JSON file per exchange for tests/golden.rs:
{"name", "request": {"method", "path", "headers", "body"}, "response": {"status", "headers", "body"}}.
The response body is parsed JSON when it is JSON, else null. Run from this directory:
    python3 convert.py /work/shared/bench/peer-ironic/samples
"""
import json
import os
import re
import sys

src = sys.argv[1]
for fn in sorted(os.listdir(src)):
    if not fn.endswith(".txt"):
        continue
    text = open(os.path.join(src, fn)).read()
    first, rest = text.split("\n", 1)
    assert first.startswith("### ")
    line = first[4:].strip()
    # "METHOD PATH [-H Name: value]... [-d BODY]" or "METHOD PATH (note)" or "METHOD PATH -u user:pw (note)"
    m = re.match(r"(\S+) (\S+)\s*(.*)$", line)
    method, path, args = m.group(1), m.group(2), m.group(3)
    headers, body, note = {}, None, None
    if args.startswith("("):
        note = args.strip("()")
        args = ""
    if args.startswith("-u "):
        user, note = re.match(r"-u (\S+) \((.*)\)", args).groups()
        headers["Authorization-User"] = user
        args = ""
    if " -d " in " " + args:
        head, body = (" " + args).split(" -d ", 1)
        args = head.strip()
    for h in [x for x in re.split(r"(?:^| )-H ", args) if x.strip()]:
        k, v = h.split(":", 1)
        headers[k.strip()] = v.strip()
    resp = rest.lstrip("\n")
    head, _, rbody = resp.partition("\n\n")
    lines = head.split("\n")
    status = int(lines[0].split()[1])
    rheaders = {}
    for l in lines[1:]:
        k, v = l.split(":", 1)
        rheaders[k.strip().lower()] = v.strip()
    rbody = rbody.strip()
    try:
        parsed = json.loads(rbody) if rbody else None
    except ValueError:
        parsed = None
    out = {
        "name": fn[:-4],
        "note": note,
        "request": {"method": method, "path": path, "headers": headers, "body": body},
        "response": {"status": status, "headers": rheaders, "body": parsed},
    }
    with open(fn[:-4] + ".json", "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
print("converted")
