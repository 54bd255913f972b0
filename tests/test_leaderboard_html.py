"""The HTML leaderboard in a real browser (headless Chromium): the table renders and model text stays text.

Needs the Debian package ``chromium`` (CI installs it); skipped, with the reason, only when no Chromium is found.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest_records import HOSTILE_COMPLETION, HOSTILE_PROMPT, sweep_records

from pearbench.results.aggregate import build_leaderboard
from pearbench.results.plots import plot_images
from pearbench.results.records import finalize_record
from pearbench.results.render_html import PAGE_TITLE, render_html

CHROMIUM = next(
    (p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not found (apt-get install -y chromium; CI installs it)"
)
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
HOSTILE_ID = "<img src=y onerror=\"document.title='PWNED-ID'\">"


@dataclass
class Node:
    tag: str
    attrs: dict[str, str | None]
    children: list[Node | str] = field(default_factory=list)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def find_all(self, tag: str, **attrs: str) -> list[Node]:
        found = []
        for child in self.children:
            if isinstance(child, Node):
                if child.tag == tag and all(child.attrs.get(k) == v for k, v in attrs.items()):
                    found.append(child)
                found.extend(child.find_all(tag, **attrs))
        return found


class TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag):
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def browser_dom(page: Path, tmp_path: Path) -> Node:
    """Load ``page`` in headless Chromium and parse the DOM as it stands after scripts (if any) ran."""
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--dump-dom",
        page.resolve().as_uri(),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "<html" in result.stdout, result.stderr[-2000:]
    builder = TreeBuilder()
    builder.feed(result.stdout)
    return builder.root


def page_title(dom: Node) -> str:
    (title,) = dom.find_all("title")
    return title.text()


@pytest.fixture(scope="module")
def hostile_board():
    records = sweep_records(seeds=(0, 1))
    body = dict(records[0])
    body["examples"] = [
        {
            "id": HOSTILE_ID,
            "stage": "rl",
            "prompt": HOSTILE_PROMPT,
            "completion": HOSTILE_COMPLETION,
            "correct": False,
        }
    ]
    records[0] = finalize_record(body)
    return build_leaderboard(records)


@pytest.fixture(scope="module")
def page_text(hostile_board):
    images = {hostile_board.suite: [(caption, png) for _, caption, png in plot_images(hostile_board)]}
    return render_html([hostile_board], images)


def test_browser_would_run_an_unescaped_payload(tmp_path):
    """Control: in this browser setup an unescaped payload does run, so the checks below can fail."""
    page = tmp_path / "control.html"
    page.write_text(
        f"<!DOCTYPE html><html><head><title>{PAGE_TITLE}</title></head><body>{HOSTILE_COMPLETION}</body></html>"
    )
    dom = browser_dom(page, tmp_path)
    assert page_title(dom).startswith("PWNED")
    assert dom.find_all("script")


def test_table_renders_and_model_text_stays_text(hostile_board, page_text, tmp_path):
    page = tmp_path / "board.html"
    page.write_text(page_text, encoding="utf-8")
    dom = browser_dom(page, tmp_path)

    assert page_title(dom) == PAGE_TITLE
    (table,) = dom.find_all("table", **{"class": "leaderboard"})
    (tbody,) = table.find_all("tbody")
    rows = tbody.find_all("tr")
    assert [row.find_all("td", **{"class": "method"})[0].text() for row in rows] == [
        r.method_label for r in hostile_board.rows
    ]
    assert all(len(row.find_all("td")) == 14 for row in rows)
    (gain,) = dom.find_all("table", **{"class": "rl-gain"})  # the RL gain section: one row per method
    gain_rows = gain.find_all("tbody")[0].find_all("tr")
    assert [row.find_all("td")[0].text() for row in gain_rows] == [r.method_label for r in hostile_board.rows]
    assert all(len(row.find_all("td")) == 7 for row in gain_rows)
    (reference,) = dom.find_all("table", **{"class": "reference"})
    assert len(reference.find_all("tbody")[0].find_all("tr")) == 2

    assert dom.find_all("script") == []
    images = dom.find_all("img")
    assert len(images) == len(plot_images(hostile_board)) >= 2  # one embedded PNG per plot, nothing else
    assert all(
        img.attrs["src"].startswith("data:image/png;base64,") and "onerror" not in img.attrs for img in images
    )
    completions = [pre.text() for pre in dom.find_all("pre", **{"class": "completion"})]
    prompts = [pre.text() for pre in dom.find_all("pre", **{"class": "prompt"})]
    assert HOSTILE_COMPLETION in completions
    assert HOSTILE_PROMPT in prompts
    assert any(HOSTILE_ID in p.text() for p in dom.find_all("p", **{"class": "meta"}))


def test_escaping_alone_keeps_scripts_from_running(hostile_board, page_text, tmp_path):
    """The same page without its Content-Security-Policy: escaping by itself must stop the payload."""
    without_csp = "\n".join(line for line in page_text.splitlines() if "Content-Security-Policy" not in line)
    assert without_csp != page_text
    page = tmp_path / "no_csp.html"
    page.write_text(without_csp, encoding="utf-8")
    dom = browser_dom(page, tmp_path)
    assert page_title(dom) == PAGE_TITLE
    assert dom.find_all("script") == []
    assert [img.attrs.get("onerror") for img in dom.find_all("img")] == [None] * len(
        plot_images(hostile_board)
    )
