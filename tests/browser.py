"""Headless chromium (Debian's) driven over the DevTools protocol: open a page, run JavaScript, read the DOM
including iframes. Just enough to check that a Snakemake report renders in a real browser."""

import json
import re
import shutil
import subprocess
import time
import urllib.request

import websocket


class Browser:
    def __init__(self, profile_dir):
        exe = shutil.which("chromium") or shutil.which("chromium-browser")
        assert exe, "chromium is not installed (apt-get install chromium; ./test.sh does)"
        self.proc = subprocess.Popen([exe, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0",
                                      f"--user-data-dir={profile_dir}", "about:blank"],
                                     stderr=subprocess.PIPE, text=True)
        url = None
        for line in self.proc.stderr:  # "DevTools listening on ws://127.0.0.1:<port>/devtools/browser/<id>"
            if match := re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line):
                url = f"http://127.0.0.1:{match[1]}/json/list"
                break
        assert url, "chromium did not start its DevTools endpoint"
        page = next(p for p in json.load(urllib.request.urlopen(url)) if p["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60)
        self.calls = 0

    def call(self, method: str, **params) -> dict:
        self.calls += 1
        self.ws.send(json.dumps({"id": self.calls, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.calls:
                assert "error" not in message, message["error"]
                return message["result"]

    def js(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def open(self, url: str, ready: str, timeout: float = 30) -> None:
        """Navigate (a reload, for the same url) and wait until the JavaScript expression ``ready`` is true."""
        self.js("window.__previous_page = true")
        self.call("Page.navigate", url=url)
        self.wait(f"!window.__previous_page && ({ready})", timeout)

    def wait(self, condition: str, timeout: float = 15) -> None:
        end = time.monotonic() + timeout
        while not self.js(f"!!({condition})"):
            assert time.monotonic() < end, f"timed out waiting for {condition}"
            time.sleep(0.2)

    def iframe_tags(self) -> list[list[str]]:
        """For each iframe on the page: the tag names in its document (the DOM domain reaches cross-origin ones)."""
        root = self.call("DOM.getDocument", depth=-1, pierce=True)["root"]
        frames = []

        def tags(node, out):
            out.append(node.get("nodeName", ""))
            for child in node.get("children", []) + ([node["contentDocument"]] if "contentDocument" in node else []):
                tags(child, out)

        def find(node):
            if node.get("nodeName") == "IFRAME" and "contentDocument" in node:
                frames.append([])
                tags(node["contentDocument"], frames[-1])
            for child in node.get("children", []):
                find(child)

        find(root)
        return frames

    def close(self) -> None:
        self.ws.close()
        self.proc.kill()
        self.proc.wait()
