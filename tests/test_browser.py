"""The whole app in a real browser: `sentinel serve`, then Debian's chromium driven by Playwright.

Upload vtest.avi through the page, click Analyze, wait for completion through the page's own
progress display, ask a question, see a citation card, click it and check that the video
player inside the Streamlit page seeks to the cited time. A screenshot of each step is saved
under test-artifacts/browser/ (printed at the end).

Slow by nature (the analysis of vtest.avi takes a minute or two here), so it has a generous
timeout; it runs in the default test command.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, free_port

ARTIFACTS = ROOT / "test-artifacts" / "browser"
QUESTION = "how many people walked by in the first minute?"
ANALYSIS_TIMEOUT_S = 15 * 60
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"`sentinel serve` exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    pytest.fail(f"`sentinel serve` did not come up in {timeout:.0f} s:\n{log.read_text()[-4000:]}")


PASSWORD = "a browser test password"


@pytest.fixture()
def served(tmp_path_factory):
    """`sentinel serve` (database, store, worker, UI) on a free port with its own data folder."""
    yield from _serve(tmp_path_factory, password=None, log_name="serve.log")


@pytest.fixture()
def served_with_password(tmp_path_factory):
    """The same behind SENTINEL_ADMIN_PASSWORD, without a worker (nothing is analysed)."""
    yield from _serve(tmp_path_factory, password=PASSWORD, log_name="serve-signed.log")


def _serve(tmp_path_factory, *, password: str | None, log_name: str, shots: str | None = None, prepare=None):
    data_dir = tmp_path_factory.mktemp("browser-data")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shots = shots or ("[0-9]*.png" if password is None else "signed-*.png")
    for old in ARTIFACTS.glob(shots):  # each test's own shots
        old.unlink()
    log = ARTIFACTS / log_name
    port = free_port()
    env = {**os.environ, "SENTINEL_DATA_DIR": str(data_dir)}
    env.pop("SENTINEL_ADMIN_PASSWORD", None)
    if password:
        env["SENTINEL_ADMIN_PASSWORD"] = password
    sentinel = ROOT / ".venv" / "bin" / "sentinel"
    if prepare is not None:
        prepare(str(sentinel) if sentinel.exists() else "sentinel", env, data_dir)
    with open(log, "w") as out:
        proc = subprocess.Popen([str(sentinel) if sentinel.exists() else "sentinel", "serve", "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=str(data_dir),
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log)
        yield url, log
    finally:
        proc.send_signal(signal.SIGTERM)  # serve stops its worker and Streamlit
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@pytest.fixture()
def browser_page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            yield page
        finally:
            browser.close()


def _wait_until_settled(count, *, quiet_s: float = 1.5, within_s: float = 30.0) -> int:
    """Poll a count until it has not changed for `quiet_s` (bounded by `within_s`); return it."""
    deadline = time.monotonic() + within_s
    last, since = count(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = count()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            break
    return last


def _seconds(mmss: str) -> int:
    total = 0
    for part in mmss.split(":"):
        total = total * 60 + int(part)
    return total


@pytest.mark.browser
@pytest.mark.timeout(ANALYSIS_TIMEOUT_S + 10 * 60)
def test_upload_analyze_ask_and_seek_in_a_real_browser(served, browser_page, vtest_path):
    from playwright.sync_api import expect

    url, log = served
    page = browser_page
    shots: list[Path] = []

    def shot(name: str) -> None:
        path = ARTIFACTS / f"{len(shots) + 1}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        shots.append(path)

    try:
        # 1. upload vtest.avi through the page, then click Analyze
        page.goto(url + "/upload")
        expect(page.get_by_role("heading", name="Upload")).to_be_visible(timeout=120_000)
        page.locator('input[type="file"]').set_input_files(str(vtest_path))
        expect(page.get_by_text("vtest.avi: Stored.")).to_be_visible(timeout=180_000)
        shot("uploaded")
        page.get_by_role("button", name=re.compile(r"Analyze 1 video")).click()

        # 2. wait for completion through the page's own live progress (a polling fragment)
        # Streamlit briefly keeps a stale copy of a keyed row during a rerun: any copy may answer
        row = page.locator('[class*="st-key-uploads-row-"]').filter(has_text="vtest.avi").first
        expect(page.locator('[class*="st-key-uploads-row-"]').filter(has_text="vtest.avi").filter(
            has_text=re.compile(r"queued|processing")).first).to_be_visible(timeout=120_000)
        shot("analysing")
        deadline = time.monotonic() + ANALYSIS_TIMEOUT_S
        seen_progress = False
        while True:
            text = row.inner_text(timeout=30_000)
            seen_progress |= "processing" in text
            if "completed" in text:
                break
            assert "failed" not in text, f"the analysis failed: {text}\n{log.read_text()[-4000:]}"
            assert time.monotonic() < deadline, f"no completion in {ANALYSIS_TIMEOUT_S} s: {text}"
            page.wait_for_timeout(2000)
        shot("completed")

        # 3. ask, and see an answer with at least one citation card
        page.get_by_role("link", name="Ask").click()
        expect(page.get_by_role("heading", name="Ask")).to_be_visible(timeout=60_000)
        chat = page.get_by_test_id("stChatInputTextArea")
        chat.fill(QUESTION)
        chat.press("Enter")
        cards = page.get_by_role("button", name=re.compile(r"Play at \d+:\d\d"))
        expect(cards.first).to_be_visible(timeout=300_000)
        expect(page.get_by_text(re.compile(r"took \d+\.\d\d s"))).to_be_visible()
        shot("answer")

        # 4. click the card cited latest (0 would prove nothing): the video page opens, the player seeks there
        _wait_until_settled(lambda: cards.count())  # the cards render one by one after the first
        times = [_seconds(re.search(r"\d+:\d\d(?::\d\d)?", label).group(0)) for label in cards.all_inner_texts()]
        cited = max(times)
        assert cited > 0, times
        card = cards.nth(times.index(cited))
        card.scroll_into_view_if_needed()
        shot("answer-card")
        card.click()
        expect(page.get_by_role("heading", name="vtest.avi")).to_be_visible(timeout=60_000)
        player = page.locator("video")
        expect(player).to_be_attached(timeout=300_000)  # the browser-playable copy is made first
        page.wait_for_function(
            """t => { const v = document.querySelector('video');
                      return v && v.readyState >= 1 && Math.abs(v.currentTime - t) < 1.5; }""",
            arg=cited, timeout=120_000)
        current = page.evaluate("() => document.querySelector('video').currentTime")
        assert abs(current - cited) < 1.5, (current, cited)
        assert f"t={cited}" in page.url
        # streamed by byte ranges from the signed-URL media server, not read whole into Streamlit
        source = page.evaluate("() => document.querySelector('video').currentSrc")
        assert source.startswith("http://127.0.0.1:") and "/media/" in source, source
        assert not source.startswith(url), "the player should not load the video through Streamlit"
        player.scroll_into_view_if_needed()
        shot("seeked")

        # 5. a typed timestamp seeks the same player again
        target = cited + 20
        page.get_by_label("Jump to (mm:ss or seconds)").fill(f"{target // 60}:{target % 60:02d}")
        page.get_by_role("button", name="Seek").click()
        page.wait_for_function(
            """t => { const v = document.querySelector('video');
                      return v && v.readyState >= 1 && Math.abs(v.currentTime - t) < 1.5; }""",
            arg=target, timeout=60_000)
        shot("seeked-again")
    except BaseException:
        shot("failure")
        raise
    finally:
        print(f"\nbrowser screenshots: {ARTIFACTS}")
        for path in shots:
            print(f"  {path}")


@pytest.mark.browser
def test_a_deep_link_survives_the_sign_in_and_the_sign_in_survives_a_reload(served_with_password, browser_page):
    from playwright.sync_api import expect

    url, _ = served_with_password
    page = browser_page
    page.goto(url + "/events")  # a link someone was sent, opened before signing in
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible(timeout=120_000)
    page.get_by_label("Admin password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Events")).to_be_visible(timeout=60_000)
    assert page.url.rstrip("/").endswith("/events"), page.url
    page.wait_for_function("document.cookie.includes('sentinel_session=')", timeout=30_000)
    cookie = next(c for c in page.context.cookies() if c["name"] == "sentinel_session")
    assert cookie["sameSite"] == "Strict" and cookie["expires"] > time.time()

    page.reload()
    expect(page.get_by_role("heading", name="Events")).to_be_visible(timeout=60_000)
    expect(page.get_by_role("heading", name="Sign in")).to_have_count(0)
    page.screenshot(path=str(ARTIFACTS / "signed-in-after-reload.png"), full_page=True)

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible(timeout=60_000)
    page.reload()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible(timeout=60_000)


# scfd_nofi026.mp4 (640x360): one passer-by holds a hand out at about (300, 304) from 0.6 to 1.0 s; a shelf
# zone there turns it into a hand_in_shelf picking event, and without one the clip has only walking
ZONE_CLIP = ROOT / "tests" / "data" / "scfd_nofi026.mp4"
SHELF_CLICKS = [(270, 280), (335, 280), (335, 328), (270, 328)]  # the video's pixels


@pytest.fixture()
def served_with_analysed_clip(tmp_path_factory):
    """`sentinel serve` over a data folder in which the clip was analysed first (its rule inputs stored)."""
    found: dict = {}

    def analyse(sentinel: str, env: dict, data_dir: Path) -> None:
        done = subprocess.run([sentinel, "analyze", str(ZONE_CLIP), "--camera", "street", "--json"], env=env,
                              cwd=str(data_dir), capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-4000:]
        found.update(json.loads(done.stdout))

    for url, log in _serve(tmp_path_factory, password=None, log_name="serve-zones.log", shots="zones-*.png",
                           prepare=analyse):
        yield url, log, found


@pytest.mark.browser
@pytest.mark.timeout(15 * 60)
def test_draw_a_shelf_zone_rerun_the_rules_and_see_the_picking_card(served_with_analysed_clip, browser_page):
    from playwright.sync_api import expect

    url, log, analysed = served_with_analysed_clip
    assert "picking" not in analysed["events_by_type"], analysed  # no shelf yet: nothing to pick from
    page = browser_page
    shots: list[Path] = []

    def shot(name: str) -> None:
        path = ARTIFACTS / f"zones-{len(shots) + 1}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        shots.append(path)

    cards = page.locator('[class*="st-key-card-gallery-"]')
    try:
        page.goto(f"{url}/video?video={analysed['video_id']}")
        expect(page.get_by_role("heading", name=ZONE_CLIP.name)).to_be_visible(timeout=120_000)
        expect(page.get_by_role("heading", name="Zones")).to_be_visible(timeout=60_000)
        expect(cards.first).to_be_visible(timeout=60_000)
        assert cards.filter(has_text="picking").count() == 0

        # click the shelf's corners on the shown (scaled) frame, then its first corner again to close it
        frame = page.frame_locator('iframe[title*="streamlit_image_coordinates"]')
        image = frame.locator("#image")
        expect(image).to_be_visible(timeout=60_000)
        image.scroll_into_view_if_needed()
        page.wait_for_function("""() => { const f = document.querySelector('iframe[title*="streamlit_image"]');
                                          return f && f.getBoundingClientRect().height > 100; }""", timeout=60_000)
        for n, (x, y) in enumerate(SHELF_CLICKS + SHELF_CLICKS[:1], 1):
            box = image.bounding_box()
            shown_x, shown_y = x * box["width"] / 640, y * box["height"] / 360
            image.click(position={"x": shown_x, "y": shown_y})
            # each click reruns the page; the next one waits for it to be drawn
            expect(page.get_by_text("Polygon closed (4 points)" if n > len(SHELF_CLICKS)
                                    else f"{n} point{'s' * (n != 1)}.")).to_be_visible(timeout=60_000)
        shot("drawn")

        page.get_by_label("Name").fill("drinks shelf")
        page.get_by_role("button", name="Save zone").click()
        expect(page.get_by_text("Saved zone 'drinks shelf' (shelf).")).to_be_visible(timeout=60_000)
        expect(page.get_by_role("button", name="Edit")).to_have_count(1)  # listed with its Edit and Delete
        shot("saved")

        page.get_by_role("button", name="Re-run rules now").click()
        # said twice: in the section and in a toast
        expect(page.get_by_text(re.compile(r"Rules re-run in \d+\.\d s: .*1 picking")).first).to_be_visible(
            timeout=120_000)
        picking = cards.filter(has_text="picking")
        expect(picking).to_have_count(1, timeout=60_000)
        picking.scroll_into_view_if_needed()
        shot("picking-card")
    except BaseException:
        shot("failure")
        print(log.read_text()[-4000:])
        raise
    finally:
        print(f"\nbrowser screenshots: {ARTIFACTS}")
        for path in shots:
            print(f"  {path}")
