"""The web page in headless Chromium: type, press speak, receive and play the streamed audio.

Needs Debian's ``chromium`` and ``chromium-driver`` (Makefile APT_PACKAGES) and selenium; the
network is closed, so Chromium runs with everything that phones home turned off and a fresh profile.
"""
from __future__ import annotations

import shutil
import time

import pytest

SENTENCE = "Hello there, how are you today?"


@pytest.fixture
def browser(tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    chrome, driver_bin = shutil.which("chromium"), shutil.which("chromedriver")
    if not chrome or not driver_bin:
        pytest.fail("chromium and chromium-driver are not installed: run `make setup` (Makefile APT_PACKAGES)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chrome
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                "--autoplay-policy=no-user-gesture-required", "--window-size=1000,900",
                f"--user-data-dir={tmp_path / 'profile'}"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service(driver_bin, log_output=str(tmp_path / "driver.log")))
    yield driver
    driver.quit()


def test_page_streams_and_plays_audio(served, browser, tmp_path):
    from selenium.webdriver.common.by import By

    browser.get(served.base + "/")
    for _ in range(50):  # bounded: the voices list arrives
        if browser.find_elements(By.CSS_SELECTOR, "#voice option"):
            break
        time.sleep(0.1)
    assert browser.find_element(By.ID, "voice").get_attribute("value") == "alice"
    browser.find_element(By.ID, "text").send_keys(SENTENCE)
    browser.execute_script("document.getElementById('seed').value = '2'")
    browser.find_element(By.ID, "speak").click()
    for _ in range(600):  # bounded: at most ~60 s
        done = browser.execute_script("return document.body.dataset.done || ''")
        if done:
            break
        time.sleep(0.1)
    assert done == "1", browser.find_element(By.ID, "error").text
    chunks = int(browser.execute_script("return document.body.dataset.chunksPlayed || '0'"))
    assert chunks >= 2  # played as it streamed, chunk by chunk
    for _ in range(50):
        duration = browser.execute_script("return document.getElementById('player').duration")
        if duration and duration > 0:
            break
        time.sleep(0.1)
    assert duration and duration > 0.5
    browser.execute_script("document.getElementById('player').play()")
    status = browser.find_element(By.ID, "status").text
    assert "first audio after" in status and "RTF" in status
    for _ in range(50):  # the results table lists this request
        rows = browser.find_elements(By.CSS_SELECTOR, "#results tbody tr")
        if rows and SENTENCE in rows[0].text:
            break
        time.sleep(0.1)
    assert rows and SENTENCE in rows[0].text
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    browser.save_screenshot(str(tmp_path / "serve-page.png"))
