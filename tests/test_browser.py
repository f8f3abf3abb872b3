"""The MLflow UI, in a real headless Chromium, as a user opens a sweep in it."""

import json
import os
import shutil
from pathlib import Path

import pytest
from sweep_helpers import cli, eventually

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
EXPAND_BUTTON = "button[data-component-id*='runnamecellrenderer']"
ASSISTANT_CLOSE = "button[data-component-id='mlflow.assistant.chat_panel.close']"

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="Debian's chromium and chromium-driver are not installed (`make browser` installs them)",
)


def _browser(user_dir: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1500,800",
        f"--user-data-dir={user_dir}",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def _text_appears(driver, texts: list[str], timeout_s: float = 60.0) -> bool:
    return eventually(lambda: all(text in driver.page_source for text in texts), timeout_s)


@pytest.fixture
def browsed_sweep(request) -> Path:
    """The sweep to browse: $BROWSE_SWEEP (``make screenshots`` browses the quickstart's for
    the README), else the sweep tests' finished sweep, run on the shared cluster."""
    if os.environ.get("BROWSE_SWEEP"):
        return Path(os.environ["BROWSE_SWEEP"])
    _, sweep_dir = request.getfixturevalue("finished_sweep")
    return sweep_dir


def test_the_address_ui_prints_shows_the_answer_then_the_trials_and_the_summary(
    browsed_sweep, tmp_path
) -> None:
    """What a user sees first: the address ``probe-sweep ui`` prints opens the runs table (not
    the GenAI overview) with the saved view's columns, so the sweep's row shows the recommended
    strategy and its interval; expanding it lists the trials, the best one by name. One click
    on the sweep shows its Overview with the description (the recommendation and the
    finalists' table); its summary renders in the artifact view. Screenshots go to
    $SCREENSHOTS_DIR (docs/ for the README) or the test's folder."""
    from selenium.webdriver.common.by import By

    from sweeps.spec import load_spec
    from sweeps.sweep_dir import SweepDir
    from sweeps.tracking_session import TrackingSession

    shots = Path(os.environ.get("SCREENSHOTS_DIR", tmp_path))
    metric = load_spec(browsed_sweep / "spec.yaml").metric
    report = json.loads((browsed_sweep / "report.json").read_text())
    headline = (browsed_sweep / "recommendation.txt").read_text().splitlines()[0].split(" (")[0]
    best = report["leaderboard"][0]
    best_run = f"{best['strategy']} {best[metric]:.3f} ({best['trial_id']})"
    ui, driver = cli("ui", str(browsed_sweep)), None
    try:
        address = ui.stdout.readline().split(": ", 1)[1].strip()
        driver = _browser(tmp_path / "chromium")
        driver.get(address)
        assert eventually(lambda: _sweep_rows(driver), timeout_s=60), "no sweep is listed"
        assert "/runs" in driver.current_url, f"opened {driver.current_url}, not the runs table"
        for close in driver.find_elements(By.CSS_SELECTOR, ASSISTANT_CLOSE):
            close.click()  # MLflow's assistant panel: not ours, and it hides half the table
        answer = ["recommended_strategy", "recommended_mean", "best_value"]
        answer.append(str(report["recommendation"]["strategy"]))  # None when none is
        assert _text_appears(driver, answer), "the sweep's row does not show its answer"
        assert not _text_appears(driver, [best_run], timeout_s=1), "trials before expanding"
        driver.save_screenshot(str(shots / "mlflow_runs.png"))
        # the trials are nested under their sweep: the run-name cell's button expands it
        for button in _sweep_rows(driver):
            button.click()
        assert _text_appears(driver, [best_run]), f"the best run {best_run} is not listed"
        driver.save_screenshot(str(shots / "mlflow_trials.png"))

        parent = TrackingSession.load(SweepDir.open(browsed_sweep)).parent_run_id
        driver.find_element(By.CSS_SELECTOR, f"a[href*='/runs/{parent}']").click()
        described = [headline, "trainable parameters", f"{sum(report['counts'].values())} trials: "]
        assert _text_appears(driver, described), "the sweep's description does not show"
        driver.save_screenshot(str(shots / "mlflow_overview.png"))
        summary = f"{driver.current_url.split('?')[0]}/artifacts/summary.html"
        driver.get(f"{summary}?workflowType=machine_learning")
        assert _frame_shows(driver, headline), "the summary page does not render"
        driver.save_screenshot(str(shots / "mlflow_summary.png"))
        # the whole summary page, its plots to be looked at
        driver.get((browsed_sweep / "summary.html").resolve().as_uri())
        height = driver.execute_script("return document.body.scrollHeight")
        driver.set_window_size(1200, height + 100)
        driver.save_screenshot(str(shots / "summary_page.png"))
    finally:
        if driver is not None:
            driver.quit()
        ui.terminate()
        ui.wait(timeout=60)


def _sweep_rows(driver) -> list:
    """The buttons that expand a sweep's row (its run-name cell) to list its trials."""
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, EXPAND_BUTTON)


def _frame_shows(driver, text: str, timeout_s: float = 60.0) -> bool:
    """Whether an iframe of the page (MLflow renders HTML artifacts in one) shows ``text``."""
    from selenium.webdriver.common.by import By

    def shown() -> bool:
        for frame in driver.find_elements(By.TAG_NAME, "iframe"):
            driver.switch_to.frame(frame)
            found = text in driver.page_source
            driver.switch_to.default_content()
            if found:
                return True
        return False

    return eventually(shown, timeout_s)
