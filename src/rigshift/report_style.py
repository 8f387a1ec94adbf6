"""What every self-contained HTML report (assess, econ, plan, energy simulate) needs to read on a
phone: the viewport declared, and nothing wider than the screen (charts shrink with it, a wide
table scrolls inside itself, long paths wrap), so the page never scrolls sideways at 390 px."""

from __future__ import annotations

VIEWPORT = "<meta name='viewport' content='width=device-width, initial-scale=1'>"

FIT_CSS = (
    "svg{max-width:100%;height:auto}"
    "table{display:block;max-width:100%;overflow-x:auto}"
    "code,pre{white-space:pre-wrap;overflow-wrap:anywhere}"
    ".grid>*,.card{min-width:0;max-width:100%;box-sizing:border-box}"
    "@media (max-width:720px){body{margin:12px}}"
)
