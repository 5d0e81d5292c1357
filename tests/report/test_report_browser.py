"""The HTML report opens from disk in headless Chromium and every embedded figure decodes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import matplotlib.image as mpimg
import pytest
from report_fixtures import FIGURES, tiny_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed (Debian: apt-get install chromium); .ci/run installs it",
)

# Appended to a copy of the report (the report itself has no scripts): once the page has
# loaded, record each image's decoded size into the DOM, which --dump-dom then prints.
PROBE = """<script>
window.addEventListener("load", () => {
  const out = document.createElement("pre");
  out.id = "decode-result";
  out.textContent = JSON.stringify([...document.images].map(i => ({
      ok: i.complete && i.naturalWidth > 0, w: i.naturalWidth, h: i.naturalHeight})));
  document.body.appendChild(out);
});
</script>"""


def chromium(*args: str, profile) -> subprocess.CompletedProcess[str]:
    command = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-quic", f"--user-data-dir={profile}", *args,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


def test_html_report_opens_in_headless_chromium_and_each_figure_decodes(tmp_path_factory):
    run_dir, _ = tiny_report(tmp_path_factory)
    work = tmp_path_factory.mktemp("browser")
    probe = work / "report_probe.html"  # beside nothing: the report needs no other file
    probe.write_text((run_dir / "report.html").read_text().replace("</body>", PROBE + "</body>"))
    dom = chromium(
        "--virtual-time-budget=20000", "--dump-dom", probe.as_uri(), profile=work / "p1"
    ).stdout
    match = re.search(r'<pre id="decode-result">(.*?)</pre>', dom, re.S)
    assert match, "the page did not finish decoding its images"
    results = json.loads(match.group(1))
    names = re.findall(r'<figure id="fig-([^"]+)">', (run_dir / "report.html").read_text())
    assert set(FIGURES) <= set(names)  # and any figure added since, in page order
    assert len(results) == len(names)
    for result, name in zip(results, names, strict=True):
        png = mpimg.imread(run_dir / f"{name}.png")
        assert result == {"ok": True, "w": png.shape[1], "h": png.shape[0]}, name

    shot = work / "report.png"
    chromium(
        "--window-size=1400,2400", f"--screenshot={shot}", (run_dir / "report.html").as_uri(),
        profile=work / "p2",
    )  # fmt: skip
    image = mpimg.imread(shot)
    assert image.shape[:2] == (2400, 1400) and image.std() > 0.05  # a rendered page, not blank
