"""A self-contained HTML page that plays a run's view frames: a step slider and play/pause.

The frames are PNGs embedded inline as ``data:`` URLs, with the page's script and style, so the file
works offline, opened from disk, and can be mailed or attached as it is. Its Content-Security-Policy
allows nothing but inline data: a page that tried to load anything from elsewhere would be blocked.

Keys: the slider takes the arrow keys, Home and End; space plays and pauses.
"""
from __future__ import annotations

import base64
import html
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass

from ganlab.files import atomic_write_text


@dataclass(frozen=True)
class PlayerFrame:
    step: int
    caption: str  # one line shown under the picture, e.g. the mode metrics
    png: bytes


PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
      content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{title}</title>
<style>
  body {{ font-family: system-ui, sans-serif; margin: 1.5rem auto; max-width: 68rem; padding: 0 1rem; }}
  h1 {{ font-size: 1.2rem; }}
  img {{ max-width: 100%; height: auto; display: block; border: 1px solid #ddd; }}
  .controls {{ display: flex; gap: 0.8rem; align-items: center; margin: 0.6rem 0; }}
  #slider {{ flex: 1; }}
  button {{ min-width: 5rem; padding: 0.3rem 0.8rem; }}
  #caption {{ font-variant-numeric: tabular-nums; }}
</style>
</head>
<body>
<h1>{title}</h1>
<img id="frame" alt="the views of one training step" width="{width}" height="{height}">
<div class="controls">
  <button id="play" type="button">Play</button>
  <input id="slider" type="range" min="0" max="{last}" value="0" step="1" aria-label="training step">
</div>
<div id="caption" aria-live="polite"></div>
<noscript>This player needs JavaScript; the PNG frames beside this file show the same pictures.</noscript>
<script id="frames" type="application/json">{frames}</script>
<script>
"use strict";
const frames = JSON.parse(document.getElementById("frames").textContent);
const image = document.getElementById("frame");
const slider = document.getElementById("slider");
const caption = document.getElementById("caption");
const button = document.getElementById("play");
const delay = {delay};
let timer = null;

function show(index) {{
  index = Math.max(0, Math.min(frames.length - 1, index));
  const frame = frames[index];
  slider.value = String(index);
  image.src = frame.src;
  image.dataset.index = String(index);
  caption.textContent = "step " + frame.step + (frame.caption ? "  \\u00b7  " + frame.caption : "");
}}

function pause() {{
  clearInterval(timer);
  timer = null;
  button.textContent = "Play";
}}

function play() {{
  if (Number(slider.value) >= frames.length - 1) show(0);
  button.textContent = "Pause";
  timer = setInterval(() => {{
    const next = Number(slider.value) + 1;
    if (next >= frames.length) pause(); else show(next);
  }}, delay);
}}

slider.addEventListener("input", () => {{ pause(); show(Number(slider.value)); }});
button.addEventListener("click", () => (timer ? pause() : play()));
document.addEventListener("keydown", (event) => {{
  if (event.key === " " && event.target !== button) {{ event.preventDefault(); button.click(); }}
}});
show(0);
</script>
</body>
</html>
"""


def player_html(frames: Sequence[PlayerFrame], title: str = "", fps: float = 5,
                size: tuple[int, int] | None = None) -> str:
    """The page's text. ``size`` (width, height in pixels) reserves the picture's room while it loads."""
    if not frames:
        raise ValueError("the player needs at least one frame")
    data = [{"step": f.step, "caption": f.caption,
             "src": "data:image/png;base64," + base64.b64encode(f.png).decode("ascii")} for f in frames]
    # JSON inside <script>: "</" would end the element early, so it is written "<\/" (the same string).
    frames_json = json.dumps(data, ensure_ascii=True).replace("</", "<\\/")
    width, height = size or _png_size(frames[0].png)
    return PAGE.format(title=html.escape(title or "ganlab views"), frames=frames_json, last=len(frames) - 1,
                       delay=round(1000 / fps), width=width, height=height)


def save_player(path: str | os.PathLike, frames: Sequence[PlayerFrame], title: str = "", fps: float = 5) -> None:
    """Write the player page to ``path``, atomically."""
    atomic_write_text(path, player_html(frames, title, fps))


def _png_size(png: bytes) -> tuple[int, int]:
    """Width and height from a PNG's header (bytes 16-24 of the IHDR chunk)."""
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
