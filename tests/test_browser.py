"""The MLflow UI, in a real headless Chromium, as a user opens a sweep in it."""

import os
import shutil
from pathlib import Path

import pytest
from sweep_helpers import MlflowServer, eventually, small_spec

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


def test_mlflow_ui_opens_the_sweep_on_its_runs_with_the_best_trial_and_the_summary(
    ray_cluster, tmp_path
) -> None:
    """The address ``probe-sweep ui`` prints opens the experiment on its runs table (not the
    GenAI overview); the best trial's strategy and value are in the table; the parent run's
    Overview shows its description (the recommendation and the finalists' table); its summary
    renders in the artifact view. Screenshots go to $SCREENSHOTS_DIR (docs/ for the
    README) or the test's folder."""
    from selenium.webdriver.common.by import By

    from sweeps.sweep import run_sweep
    from sweeps.ui import experiment_page

    shots = Path(os.environ.get("SCREENSHOTS_DIR", tmp_path))
    server = MlflowServer(tmp_path)
    server.start()
    driver = None
    try:
        spec = small_spec(
            tmp_path,
            "browsed",
            ray_address=ray_cluster.address,
            tracking={"uri": server.uri},
            num_samples=3,
        )
        outcome = run_sweep(spec)
        best = outcome.conclusion.board[0]
        best_run = f"{best['strategy']} {best[spec.metric]:.3f} ({best['trial_id']})"
        driver = _browser(tmp_path / "chromium")
        driver.get(experiment_page(server.uri, outcome.session.experiment_id))
        assert _text_appears(driver, ["browsed"]), "the parent run is not listed"
        assert "/runs" in driver.current_url, f"opened {driver.current_url}, not the runs table"
        for close in driver.find_elements(By.CSS_SELECTOR, ASSISTANT_CLOSE):
            close.click()  # MLflow's assistant panel: not ours, and it hides half the table
        assert not _text_appears(driver, [best_run], timeout_s=1), "children before expanding"
        # child runs are nested under their parent: the run-name cell's button expands it
        for button in driver.find_elements(By.CSS_SELECTOR, EXPAND_BUTTON):
            button.click()
        assert _text_appears(driver, [best_run]), f"the best run {best_run} is not listed"
        driver.save_screenshot(str(shots / "mlflow_runs.png"))

        parent = outcome.session.parent_run_id
        run_page = f"{server.uri}/#/experiments/{outcome.session.experiment_id}/runs/{parent}"
        recommended = f"Recommended freeze strategy: {outcome.recommendation.strategy}"
        # one click from the runs table: the parent's Overview, its description rendered
        driver.get(f"{run_page}?workflowType=machine_learning")
        described = [recommended, "trainable parameters", "3 trials: "]
        assert _text_appears(driver, described), "the parent's description does not show"
        driver.save_screenshot(str(shots / "mlflow_overview.png"))
        driver.get(f"{run_page}/artifacts/summary.html?workflowType=machine_learning")
        assert _frame_shows(driver, recommended), "the summary page does not render"
        driver.save_screenshot(str(shots / "mlflow_summary.png"))
    finally:
        if driver is not None:
            driver.quit()
        server.stop()


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
