"""Sheet music in the browser: MusicXML engraved to SVG pages by Verovio, and a page to show them.

:func:`score_svgs` renders the MusicXML that :func:`core.render.to_musicxml` writes (one SVG per
page: a long piece is several pages); :func:`score_html` wraps them in a self-contained page
with previous / next buttons (no network: the SVGs carry their own glyphs); :func:`score_page`
does both.  Verovio is imported
on first use; one toolkit is reused, behind a lock (it is not thread-safe).
"""

from __future__ import annotations

import threading

from core.render.player import asset

# Verovio units: pageWidth / scale set how many bars fit a line once the SVG is scaled to the
# width of the screen; the demo layout puts fewer bars on a line, so every note is larger.
LAYOUTS = {False: dict(pageWidth=2400, pageHeight=1500, scale=40),
           True: dict(pageWidth=1700, pageHeight=1150, scale=40)}
_LOCK = threading.Lock()
_TOOLKIT = []


def _toolkit():
    if not _TOOLKIT:
        import verovio

        verovio.enableLog(verovio.LOG_ERROR)
        _TOOLKIT.append(verovio.toolkit())
    return _TOOLKIT[0]


def verovio_version() -> str:
    with _LOCK:
        return _toolkit().getVersion()


def score_svgs(musicxml: bytes | str, *, large: bool = False) -> list[str]:
    """The pages of the score in ``musicxml``, as SVG documents (``large``: fewer bars a line).

    Raises ``ValueError`` when Verovio cannot read the file or it has no page.
    """
    text = musicxml.decode("utf-8") if isinstance(musicxml, bytes) else musicxml
    if "<score-partwise" not in text and "<score-timewise" not in text:
        raise ValueError("the score could not be engraved (it is not MusicXML)")
    with _LOCK:
        tk = _toolkit()
        tk.setOptions({**LAYOUTS[large], "adjustPageHeight": True, "breaks": "auto",
                       "footer": "none", "header": "auto", "svgViewBox": True,
                       "svgRemoveXlink": True, "inputFrom": "musicxml",
                       # a tie names the note it ends on (one tie may be drawn in two halves)
                       "svgAdditionalAttribute": ["tie@endid"]})
        if not tk.loadData(text) or tk.getPageCount() < 1:
            raise ValueError("the score could not be engraved (Verovio cannot read it)")
        return [tk.renderToSVG(page) for page in range(1, tk.getPageCount() + 1)]


def score_page(musicxml: bytes | str, *, large: bool = False) -> str:
    """The score in ``musicxml`` engraved (:func:`score_svgs`) in a page of its own
    (:func:`score_html`); ``ValueError`` as :func:`score_svgs`."""
    return score_html(score_svgs(musicxml, large=large), large=large)


def score_html(pages: list[str], *, large: bool = False) -> str:
    """A page showing ``pages`` (SVG documents) one at a time, with previous / next buttons."""
    shown = "".join(f'<div class="cs-page"{"" if i == 0 else " hidden"}>{svg}</div>'
                    for i, svg in enumerate(pages))
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><style>{asset("score.css")}</style></head>
<body class="{'large' if large else ''}">
<div class="cs-score" data-composer-score data-pages="{len(pages)}">
  <div class="cs-pager"{" hidden" if len(pages) < 2 else ""}>
    <button type="button" class="cs-prev">◀ Previous</button>
    <span class="cs-count">Page 1 of {len(pages)}</span>
    <button type="button" class="cs-next">Next ▶</button></div>
  {shown}
</div>
<script>{asset("score.js")}</script>
</body></html>"""
