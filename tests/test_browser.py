"""The MLflow UI, in a real headless Chromium, lists a sweep's parent run and its child runs."""

import shutil
import time
from pathlib import Path

import pytest
from sweep_helpers import MlflowServer, small_spec

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
EXPAND_BUTTON = "button[data-component-id*='runnamecellrenderer']"

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
        "--window-size=1600,1000",
        f"--user-data-dir={user_dir}",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def _text_appears(driver, texts: list[str], timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if all(text in driver.page_source for text in texts):
            return True
        time.sleep(0.5)
    return False


def test_mlflow_ui_lists_the_sweep_and_its_trials(ray_cluster, tmp_path) -> None:
    from selenium.webdriver.common.by import By

    from sweeps.ledger import Ledger
    from sweeps.sweep import run_sweep

    server = MlflowServer(tmp_path)
    server.start()
    driver = None
    try:
        spec = small_spec(
            tmp_path,
            "browsed",
            ray_address=ray_cluster.address,
            tracking={"uri": server.uri},
            num_samples=2,
        )
        outcome = run_sweep(spec, say=lambda *_: None)
        records = Ledger(tmp_path / "sweeps" / "browsed" / "trials.json").of_phase("search")
        children = [f"{r.strategy}-{r.trial_id}" for r in records]
        driver = _browser(tmp_path / "chromium")
        driver.get(f"{server.uri}/#/experiments/{outcome.session.experiment_id}/runs")
        assert _text_appears(driver, ["browsed"]), "the parent run is not listed"
        assert not _text_appears(driver, children, timeout_s=1), "children shown before expanding"
        # child runs are nested under their parent: the run-name cell's button expands it
        for button in driver.find_elements(By.CSS_SELECTOR, EXPAND_BUTTON):
            button.click()
        assert _text_appears(driver, children), f"child runs {children} are not listed"
    finally:
        if driver is not None:
            driver.quit()
        server.stop()
