"""The HTML page around the data: one style sheet, one script, a strict CSP.

Nothing from a log is written into the markup: log text only travels inside the JSON
document, where ``<``, ``>`` and ``&`` are ``\\u`` escapes (so it can never close its
``<script>`` element), and the page's script puts it into the DOM as text.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from functools import cache
from importlib import resources
from typing import Any

DATA_ID = "report-data"
# The JSON can hold these only inside strings, where their \u escapes mean the same:
# nothing in the document can then end the <script> element or start a comment in it.
_JSON_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


@cache
def asset(name: str) -> str:
    """A file shipped with the page (report.css, report.js)."""
    return resources.files("logtrace.html").joinpath(name).read_text(encoding="utf-8")


def csp_hash(text: str) -> str:
    """The CSP source of an inline element's text: ``'sha256-<base64>'``."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def script_json(data: Any) -> str:
    """``data`` as JSON safe to put inside ``<script type="application/json">``: ASCII
    only (U+2028/2029 and every control character escaped) and no ``<``, ``>`` or ``&``."""
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return text.translate(_JSON_ESCAPES)


def content_security_policy(script: str, style: str) -> str:
    """Nothing but this page's own script and style sheet; images only as data: URLs;
    no connection, frame, form, font or base URL."""
    return (
        f"default-src 'none'; script-src {csp_hash(script)}; style-src {csp_hash(style)}; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )


def render_page(data: dict[str, Any], *, title: str = "logtrace report") -> str:
    """The whole page: the data embedded, drawn by the inline script."""
    style = asset("report.css")
    script = asset("report.js")
    if "</" in script or "</" in style:  # would end their element early
        raise ValueError("report.js and report.css must not contain '</'")
    csp = content_security_policy(script, style)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{html.escape(csp)}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<link rel="icon" href="data:,">\n'
        f"<title>{html.escape(title)}</title>\n"
        f"<style>{style}</style>\n</head>\n<body>\n"
        '<noscript><p class="noscript">This report is drawn by its inline script: '
        "allow JavaScript for this file to see it.</p></noscript>\n"
        '<div id="app"></div>\n'
        f'<script type="application/json" id="{DATA_ID}">{script_json(data)}</script>\n'
        f"<script>{script}</script>\n"
        "</body>\n</html>\n"
    )
