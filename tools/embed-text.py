#!/usr/bin/env python3
"""Embeds a text file as a C string: embed-text.py SYMBOL INPUT OUTPUT."""
import json
import sys

symbol, source, target = sys.argv[1:4]
with open(source, encoding="utf-8") as f:
    text = f.read()
with open(target, "w", encoding="utf-8") as f:
    f.write("/* Generated from %s. */\n" % source.split("/")[-1])
    f.write("const char %s[] =\n" % symbol)
    for line in text.splitlines(keepends=True):
        f.write("\t%s\n" % json.dumps(line))
    f.write(";\n")
