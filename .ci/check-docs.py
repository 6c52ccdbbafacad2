#!/usr/bin/env python3
"""Checks the README and docs/*.md: every relative link points at a file that exists, and
every `#anchor` at a heading of its page (GitHub's slugs); the README is at most
README_MAX_LINES lines. External links (any `scheme:`) are not fetched. Prints every broken
link as FILE:LINE and exits 1 if there is one. Python 3 standard library only."""

import os
import re
import sys
import unicodedata
from urllib.parse import unquote

README_MAX_LINES = 250
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
CLOSING = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*$")
ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
# [text](target) and ![alt](target); the target may be <bracketed> and carry a "title".
INLINE = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)")
REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
HTML = re.compile(r"<(?:a|img)\b[^>]*?\b(?:href|src)\s*=\s*[\"']([^\"']*)[\"']", re.I)
HTML_ANCHOR = re.compile(r"<[a-z][^>]*?\b(?:id|name)\s*=\s*[\"']([^\"']+)[\"']", re.I)
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def slug(heading):
    """GitHub's anchor for a heading: its text as rendered, lowercased, without
    punctuation but '-' and '_', spaces turned into '-'."""
    text = CODE_SPAN.sub(lambda m: m.group(2), heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links: their text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML tags
    text = text.replace("*", "").replace("\\", "")
    # '_' as emphasis is dropped by the renderer, but kept inside a word (snake_case).
    text = re.sub(r"(?<![\w])_+|_+(?![\w])", "", text)
    kept = []
    for ch in text.lower():
        cat = unicodedata.category(ch)
        if ch in " -" or cat[0] in "LMN" or cat == "Pc":
            kept.append(ch)
    return "".join(kept).replace(" ", "-")


def scan(path):
    """The page's lines outside code (fenced blocks; code spans blanked), its anchors,
    and its links as (line number, target)."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    anchors, links, counts = set(), [], {}
    fence = None
    previous = ""
    for number, line in enumerate(lines, 1):
        opening = FENCE.match(line)
        if fence:
            closing = CLOSING.match(line)
            if closing and closing.group(1)[0] == fence[0] and len(closing.group(1)) >= len(fence):
                fence = None
            previous = ""
            continue
        if opening:
            fence = opening.group(1)
            previous = ""
            continue
        heading = None
        atx = ATX.match(line)
        if atx:
            heading = atx.group(2)
        elif SETEXT.match(line) and previous.strip() and not previous.startswith("    "):
            heading = previous.strip()
        if heading is not None:
            base = slug(heading)
            seen = counts.get(base, 0)
            counts[base] = seen + 1
            anchors.add(base if seen == 0 else f"{base}-{seen}")
        for found in HTML_ANCHOR.finditer(line):
            anchors.add(found.group(1))
        text = CODE_SPAN.sub(lambda m: " " * len(m.group(0)), line)
        for found in INLINE.finditer(text):
            links.append((number, found.group(1)))
        for found in REFERENCE.finditer(text):
            links.append((number, found.group(1)))
        for found in HTML.finditer(text):
            links.append((number, found.group(1)))
        previous = line
    return lines, anchors, links


def main():
    pages = [os.path.join(ROOT, "README.md")]
    docs = os.path.join(ROOT, "docs")
    if os.path.isdir(docs):
        pages += sorted(
            os.path.join(docs, name) for name in os.listdir(docs) if name.endswith(".md")
        )
    scanned = {page: scan(page) for page in pages}
    anchors_of = {page: anchors for page, (_, anchors, _) in scanned.items()}
    problems = []
    checked = 0

    for page, (lines, anchors, links) in scanned.items():
        shown = os.path.relpath(page, ROOT)
        for number, target in links:
            target = target.strip()
            if target.startswith("<") and target.endswith(">"):
                target = target[1:-1].strip()
            if not target or SCHEME.match(target) or target.startswith("//"):
                continue
            checked += 1
            path, _, anchor = target.partition("#")
            path = unquote(path.split("?", 1)[0])
            if path:
                base = ROOT if path.startswith("/") else os.path.dirname(page)
                resolved = os.path.normpath(os.path.join(base, path.lstrip("/")))
                if not os.path.exists(resolved):
                    problems.append(f"{shown}:{number}: {target}: no such file")
                    continue
            else:
                resolved = page
            if not anchor:
                continue
            anchor = unquote(anchor)
            if not resolved.endswith(".md"):
                continue  # anchors are checked in Markdown pages only
            if resolved not in anchors_of:
                anchors_of[resolved] = scan(resolved)[1]
            if anchor not in anchors_of[resolved]:
                problems.append(f"{shown}:{number}: {target}: no heading #{anchor} in "
                                f"{os.path.relpath(resolved, ROOT)}")

    readme_lines = len(scanned[pages[0]][0]) - (1 if scanned[pages[0]][0][-1] == "" else 0)
    if readme_lines > README_MAX_LINES:
        problems.append(f"README.md: {readme_lines} lines, more than {README_MAX_LINES}")

    for problem in problems:
        print(problem)
    print(f"{len(pages)} pages, {checked} relative links checked; README.md {readme_lines} "
          f"lines (at most {README_MAX_LINES}); {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
