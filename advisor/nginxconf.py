"""Putting an nginx snippet (what `perfadvisor apply` writes to nginx.conf) into a server block.

Pasting a snippet under a server block is not enough: nginx rejects a second `gzip` in one block ("directive is
duplicate", from the one-value slot handlers of src/core/ngx_conf_file.c) and a `location ^~ /assets/` next to an
existing `location /assets/` ("duplicate location", ngx_http_add_location). merge_server_snippet therefore
replaces what the snippet redefines, in place, and adds the rest at the end of the block:

- a simple directive replaces the block's directive of the same name; for the directives nginx allows more than
  once in a block (add_header, proxy_set_header, include, …) only the one with the same first argument;
- a `location` replaces the block's location with the same path, whatever either's modifier (= ^~ ~ ~*);
  another block (`types { }`, `if (…) { }`) replaces the one with the same name and arguments;
- the block's text outside what is replaced is kept byte for byte, comments included; the comments of the
  snippet, and those inside a replaced directive, are kept as comment lines above the new directive.

The tokenizer follows nginx's own (ngx_conf_read_token): words, quoted strings with backslash escapes, `${var}`
inside a word, `;`, `{`, `}`, and `#` comments that start where a word could.
"""

from __future__ import annotations

from dataclasses import dataclass

from advisor.errors import ConfigError

#: Directives nginx allows more than once in one block, and how many leading arguments tell two apart
#: (None: all of them, for ordered lists such as allow/deny where only an identical line is the same).
REPEATABLE = {"add_header": 1, "proxy_set_header": 1, "grpc_set_header": 1, "fastcgi_param": 1,
              "uwsgi_param": 1, "scgi_param": 1, "include": 1, "set": 1, "listen": 1, "server_name": None,
              "allow": None, "deny": None, "rewrite": None, "error_page": None, "sub_filter": None,
              "ssl_certificate": None, "ssl_certificate_key": None, "return": None, "ssi_types": None}
_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "t": "\t", "r": "\r", "n": "\n"}


@dataclass(frozen=True)
class Token:
    """kind: word | comment | { | } | ; — text is the source text, value the word unquoted."""

    kind: str
    text: str
    value: str
    start: int
    end: int


@dataclass(frozen=True)
class Node:
    """A directive: its words (unquoted), source span [start, end) and, for a block, its children and the span of
    its body between the braces."""

    words: tuple[str, ...]
    start: int
    end: int
    children: tuple[Node, ...] | None = None
    body_start: int = 0
    body_end: int = 0

    @property
    def name(self) -> str:
        return self.words[0]


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def tokenize(text: str, name: str = "nginx config") -> list[Token]:
    """The tokens of nginx configuration text. Raises ConfigError (name:line) for an unterminated quote."""
    out: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c == "#":
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(Token("comment", text[i:j], text[i:j], i, j))
            i = j
        elif c in "{};":
            out.append(Token(c, c, c, i, i + 1))
            i += 1
        elif c in "\"'":
            j, value = _quoted(text, i, name)
            out.append(Token("word", text[i:j], value, i, j))
            i = j
        else:
            j = _word_end(text, i)
            out.append(Token("word", text[i:j], _unescape(text[i:j]), i, j))
            i = j
    return out


def _unescape(word: str) -> str:
    out, j = [], 0
    while j < len(word):
        if word[j] == "\\" and j + 1 < len(word):
            out.append(_ESCAPES.get(word[j + 1], "\\" + word[j + 1]))
            j += 2
        else:
            out.append(word[j])
            j += 1
    return "".join(out)


def _quoted(text: str, i: int, name: str) -> tuple[int, str]:
    quote, j, value = text[i], i + 1, []
    while j < len(text):
        ch = text[j]
        if ch == "\\" and j + 1 < len(text):
            value.append(_ESCAPES.get(text[j + 1], "\\" + text[j + 1]))
            j += 2
            continue
        if ch == quote:
            return j + 1, "".join(value)
        value.append(ch)
        j += 1
    raise ConfigError(f"{name}:{_line(text, i)}: unterminated {quote} quote")


def _word_end(text: str, i: int) -> int:
    j, n = i, len(text)
    while j < n:
        ch = text[j]
        if ch == "\\" and j + 1 < n:
            j += 2
        elif ch == "$" and j + 1 < n and text[j + 1] == "{":  # ${var} is part of a word, not a block
            close = text.find("}", j)
            j = n if close < 0 else close + 1
        elif ch.isspace() or ch in ";{}":
            return j
        else:
            j += 1
    return j


def parse(text: str, name: str = "nginx config") -> list[Node]:
    """The top-level directives of nginx configuration text. Raises ConfigError (name:line: what) for unbalanced
    braces, a directive without its `;`, a stray `;` or `{`, or an unterminated quote."""
    stack: list[tuple[list[Node], tuple[str, ...], int, int]] = []
    nodes: list[Node] = []
    words: list[str] = []
    start = 0
    for tok in tokenize(text, name):
        where = f"{name}:{_line(text, tok.start)}"
        if tok.kind == "comment":
            continue
        if tok.kind == "word":
            if not words:
                start = tok.start
            words.append(tok.value)
        elif tok.kind == ";":
            if not words:
                raise ConfigError(f"{where}: unexpected ';'")
            nodes.append(Node(tuple(words), start, tok.end))
            words = []
        elif tok.kind == "{":
            if not words:
                raise ConfigError(f"{where}: '{{' without a directive name before it")
            stack.append((nodes, tuple(words), start, tok.end))
            nodes, words = [], []
        else:
            if words:
                raise ConfigError(f"{where}: '{_shown(words)}' has no ';' before '}}'")
            if not stack:
                raise ConfigError(f"{where}: unbalanced braces: '}}' closes nothing")
            parent, bwords, bstart, body_start = stack.pop()
            parent.append(Node(bwords, bstart, tok.end, tuple(nodes), body_start, tok.start))
            nodes = parent
    if words:
        raise ConfigError(f"{name}:{_line(text, start)}: '{_shown(words)}' does not end with ';'")
    if stack:
        raise ConfigError(f"{name}:{_line(text, stack[-1][2])}: unbalanced braces: the '{{' of "
                          f"'{_shown(stack[-1][1])}' is never closed")
    return nodes


def _shown(words) -> str:
    """Words as one line for a message (a word may hold a line break)."""
    return " ".join(" ".join(words).split())[:60]


def key(node: Node) -> tuple[str, ...]:
    """What makes two directives of one block the same for merging (see the module docstring)."""
    if node.name == "location" and len(node.words) > 1:
        return ("location", _location_path(node.words[1:]))
    if node.children is not None:
        return (node.name, *node.words[1:])
    if node.name in REPEATABLE:
        k = REPEATABLE[node.name]
        args = node.words[1:] if k is None else node.words[1:1 + k]
        return (node.name, *(a.lower() if node.name.endswith("_header") else a for a in args))
    return (node.name,)


def _location_path(args: tuple[str, ...]) -> str:
    if len(args) >= 2:
        return args[1]
    path = args[0]
    for mod in ("^~", "~*", "=", "~"):  # nginx also reads a modifier glued to the path (location =/x)
        if path.startswith(mod) and len(path) > len(mod):
            return path[len(mod):]
    return path


@dataclass
class _Item:
    lead: str  # whitespace and comments before the directive
    body: str  # the directive, with a comment on its last line
    key: tuple[str, ...]


def merge_server_snippet(server_block: str, snippet: str, block_name: str = "server block",
                         snippet_name: str = "nginx snippet") -> str:
    """server_block with snippet merged in (see the module docstring). server_block is either text holding one
    `server { … }` block (comments and other text around it are kept) or the inside of one. Raises ConfigError
    naming block_name or snippet_name (and the line) when either cannot be parsed, or when server_block holds
    more than one server block."""
    top = parse(server_block, block_name)
    servers = [n for n in top if n.name == "server" and n.children is not None]
    if len(servers) > 1:
        raise ConfigError(f"{block_name}: {len(servers)} server blocks; pass the one that serves the front end")
    if servers:
        body_start, body_end, nodes = servers[0].body_start, servers[0].body_end, servers[0].children
    else:
        body_start, body_end, nodes = 0, len(server_block), tuple(top)
    items, tail = _items(server_block, body_start, body_end, nodes, dedent=False)
    indent = _indent(items, server_block, servers[0].start if servers else None)
    s_nodes = parse(snippet, snippet_name)
    s_servers = [n for n in s_nodes if n.name == "server" and n.children is not None]
    s_body = (s_servers[0].body_start, s_servers[0].body_end, s_servers[0].children) if s_servers \
        else (0, len(snippet), tuple(s_nodes))
    try:
        return _merge(server_block, servers, body_start, body_end, snippet, s_body, items, tail, indent)
    except ConfigError as e:  # text the snippet's parse let through but its pieces do not re-read (a stray quote)
        raise ConfigError(f"{snippet_name}: cannot be merged: {e}") from None


def _merge(server_block: str, servers: list, body_start: int, body_end: int, snippet: str, s_body: tuple,
           items: list, tail: str, indent: str) -> str:
    new, s_tail = _items(snippet, *s_body, dedent=True)
    added = 0
    for item in new:
        comments = _comment_lines(item.lead)
        body = _reindent(item.body, indent)
        hit = next((i for i, old in enumerate(items) if old.key == item.key), None)
        if hit is None:
            gap = "\n" if added else "\n\n"  # a blank line between the block's own directives and the added ones
            items.append(_Item(gap + indent + "".join(c + "\n" + indent for c in comments), body, item.key))
            added += 1
            continue
        old = items[hit]
        inner = [c for c in _comment_lines(old.body) if c not in _comment_lines(item.body)]
        have = _comment_lines(old.lead)
        extra = [c for c in inner + comments if c not in have]
        items[hit] = _Item(old.lead + "".join(c + "\n" + indent for c in dict.fromkeys(extra)), body, item.key)
    merged = "".join(i.lead + i.body for i in items)
    present = set(_comment_lines(merged + tail))
    extra_tail = [c for c in _comment_lines(s_tail) if c not in present]
    merged += "".join("\n" + indent + c for c in dict.fromkeys(extra_tail))
    if servers and "\n" not in tail:
        tail = "\n" + tail
    return server_block[:body_start] + merged + tail + server_block[body_end:]


def _items(text: str, start: int, end: int, nodes: tuple[Node, ...], dedent: bool) -> tuple[list[_Item], str]:
    """The directives of a block body with the text before each, and the text after the last (dedent: each
    directive's later lines without the indentation of its first, to be indented anew)."""
    items, pos = [], start
    for n in nodes:
        stop = _with_trailing_comment(text, n.end, end)
        body = _dedent_tail(text, n.start, stop) if dedent else text[n.start:stop]
        items.append(_Item(text[pos:n.start], body, key(n)))
        pos = stop
    return items, text[pos:end]


def _with_trailing_comment(text: str, pos: int, limit: int) -> int:
    """pos extended over a comment on the rest of the same line (`gzip on;  # why`)."""
    j = pos
    while j < limit and text[j] in " \t":
        j += 1
    if j < limit and text[j] == "#":
        nl = text.find("\n", j, limit)
        return limit if nl < 0 else nl
    return pos


def _dedent_tail(text: str, start: int, stop: int) -> str:
    """text[start:stop], its later lines without the indentation of the line the directive starts on."""
    line_start = text.rfind("\n", 0, start) + 1
    prefix = text[line_start:start]
    own = prefix[:len(prefix) - len(prefix.lstrip())] if not prefix.strip() else ""
    lines = text[start:stop].split("\n")
    return "\n".join([lines[0]] + [ln[len(own):] if ln.startswith(own) else ln.lstrip() for ln in lines[1:]])


def _reindent(body: str, indent: str) -> str:
    lines = body.split("\n")
    return "\n".join([lines[0]] + [indent + ln if ln.strip() else "" for ln in lines[1:]])


def _comment_lines(text: str) -> list[str]:
    return [t.text.rstrip() for t in tokenize(text) if t.kind == "comment"]


def _indent(items: list[_Item], text: str, server_start: int | None) -> str:
    for it in items:
        last = it.lead.rsplit("\n", 1)[-1]
        if "\n" in it.lead and not last.strip():
            return last
    if server_start is None:
        return ""
    line_start = text.rfind("\n", 0, server_start) + 1
    return text[line_start:server_start] + "    "
