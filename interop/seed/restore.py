#!/usr/bin/env python3
"""Restores the tutorial's C client and server from the seed text.

The text lost the '<' of every #include line and of the loop bound
'i < 2', and '&currentTime' reads '\u00a4tTime' (an HTML entity eaten:
'&curren' + 'tTime'). common.h is not in the text; its values are those
of the IBM article the tutorial follows (M. Tim Jones).

usage: restore.py SEED_TEXT OUTDIR
"""
import re
import sys

COMMON_H = """#define MAX_BUFFER 1024
#define MY_PORT_NUM 19000
#define LOCALTIME_STREAM 0
#define GMT_STREAM 1
"""


def programs(text):
    """The two programs: from their first #include to the closing brace of main."""
    lines = text.splitlines()
    found = []
    i = 0
    while i < len(lines):
        if lines[i].startswith("#include"):
            start = i
            while not lines[i].startswith("int main"):
                i += 1
            depth = 0
            while True:
                depth += lines[i].count("{") - lines[i].count("}")
                if depth == 0 and "}" in lines[i]:
                    break
                i += 1
            found.append(lines[start : i + 1])
        i += 1
    return found


def repair(lines):
    out = []
    for line in lines:
        line = re.sub(r"^#include (?!\")(\S+)>", r"#include <\1>", line)
        line = line.replace("i  2", "i < 2").replace("\u00a4tTime", "&currentTime")
        out.append(line.rstrip())
    return "\n".join(out) + "\n"


def main():
    seed, outdir = sys.argv[1], sys.argv[2]
    text = open(seed, encoding="utf-8").read()
    client, server = programs(text)
    for name, body in (("sctpclnt.c", client), ("sctpsrvr.c", server)):
        with open(f"{outdir}/{name}", "w") as f:
            f.write(repair(body))
    with open(f"{outdir}/common.h", "w") as f:
        f.write(COMMON_H)


if __name__ == "__main__":
    main()
