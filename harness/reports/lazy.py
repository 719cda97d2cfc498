"""Parts of an HTML report stored compressed in the page and unpacked when the reader opens them.

A report of many analyses that agree is mostly their plots and quantity
tables, which few readers open. They are stored deflate-compressed and
base64-encoded, and a few lines of script unpack one when its ``<details>``
element opens (``DecompressionStream``: Chromium 80, Firefox 113, Safari 16.4).

Consecutive parts are compressed *together*, in packs: the analyses of one
fixture draw the same studies with the same axes and labels, and deflate's
32 KB window finds that repetition across neighbouring parts, where parts
compressed one by one each pay for it again (about 3 times smaller on the
bundled fixtures). A part's ``<details>`` carries ``data-z="PACK:INDEX"``;
each pack is a ``<script type="application/octet-stream" id="PACK">`` element
(never executed) holding the base64 of the deflate stream of its parts joined
by NUL. A pack is unpacked once, the first time one of its parts is opened.
"""
from __future__ import annotations

import base64
import re
import zlib

#: joins the parts of a pack (never in HTML text: :meth:`Packs.add` replaces any)
SEP = "\x00"

#: unpacks a part when its <details data-z> opens; ``#open-all`` opens every <details> of the page (and
#: unpacks those stored), ``#ID`` the element ID when it is one and those within it
SCRIPT = """
(function () {
  var can = typeof DecompressionStream === "function", packs = {};
  function pack(id) {
    if (!packs[id]) {
      var bin = Uint8Array.from(atob(document.getElementById(id).textContent.trim()), function (c) { return c.charCodeAt(0); });
      packs[id] = new Response(new Blob([bin]).stream().pipeThrough(new DecompressionStream("deflate"))).text()
        .then(function (t) { return t.split("\\u0000"); });
    }
    return packs[id];
  }
  function unpack(d) {
    if (d.getAttribute("data-done")) return;
    d.setAttribute("data-done", "1");
    var box = d.querySelector(".lazy-body");
    if (!can) { box.innerHTML = '<div class="warn">This browser cannot unpack the plots and tables (it lacks DecompressionStream: use Chromium 80, Firefox 113, Safari 16.4 or later), or read the JSON report.</div>'; return; }
    var ref = d.getAttribute("data-z").split(":");
    pack(ref[0]).then(function (parts) { box.innerHTML = parts[+ref[1]]; d.setAttribute("data-unpacked", "1"); });
  }
  document.addEventListener("toggle", function (e) { var d = e.target; if (d.open && d.getAttribute && d.getAttribute("data-z")) unpack(d); }, true);
  function reveal() {
    var id = decodeURIComponent(location.hash.slice(1));
    if (!id) return;
    var root = id === "open-all" ? document : document.getElementById(id);
    if (!root) return;
    var ds = Array.prototype.slice.call(root.querySelectorAll("details"));
    if (root.matches && root.matches("details")) ds.push(root);
    ds.forEach(function (d) { d.open = true; if (d.getAttribute("data-z")) unpack(d); });
  }
  window.addEventListener("hashchange", reveal);
  reveal();
})();
"""


class Packs:
    """Collects parts in page order; :meth:`html` writes the packs.

    ``max_raw``: a pack is closed once its parts reach this many characters
    (1 MB: unpacking one costs a few milliseconds, and neighbours share a pack).
    """

    def __init__(self, prefix: str = "zp", max_raw: int = 1 << 20):
        self.prefix, self.max_raw = prefix, max_raw
        self._done: list[list[str]] = []
        self._open: list[str] = []
        self._size = 0

    def add(self, body: str) -> str:
        """Store ``body`` (HTML); returns the ``data-z`` reference of its ``<details>``."""
        if self._size >= self.max_raw:
            self._done.append(self._open)
            self._open, self._size = [], 0
        self._open.append(body.replace(SEP, "\ufffd"))
        self._size += len(body)
        return f"{self.prefix}{len(self._done)}:{len(self._open) - 1}"

    def html(self) -> str:
        """The pack elements and the script that unpacks them ("" without parts)."""
        packs = self._done + ([self._open] if self._open else [])
        if not packs:
            return ""
        out = [f'<script type="application/octet-stream" id="{self.prefix}{i}">{_deflate(SEP.join(p))}</script>' for i, p in enumerate(packs)]
        return "\n".join(out + [f"<script>{SCRIPT}</script>"])


def _deflate(text: str) -> str:
    return base64.b64encode(zlib.compress(text.encode("utf-8"), 9)).decode("ascii")


def bodies(page: str) -> dict[str, str]:
    """Every stored part of ``page`` (an HTML report's text) by its ``data-z`` reference, unpacked
    as the page's script unpacks it: for tests and tools that read a report without a browser."""
    out = {}
    for pid, z in re.findall(r'<script type="application/octet-stream" id="([^"]+)">([^<]*)</script>', page):
        for i, part in enumerate(zlib.decompress(base64.b64decode(z)).decode("utf-8").split(SEP)):
            out[f"{pid}:{i}"] = part
    return out
