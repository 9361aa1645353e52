// The server's MJPEG stream in an <img>. An <img> cannot say why a stream stopped, so the page
// asks /api/stream_status whenever the image fails and every few seconds while it plays.
"use strict";

(() => {
  const app = document.getElementById("app");
  const feed = document.getElementById("feed");
  const notice = document.getElementById("stream-notice");
  const reconnect = document.getElementById("reconnect");
  const POLL_MS = 2000;

  function setState(state, message = "") {
    app.dataset.state = state;
    notice.textContent = message;
    notice.hidden = !message;
    reconnect.hidden = state === "live" || state === "connecting";
    // a failed <img> shows the browser's broken-image icon: show the notice alone instead
    feed.hidden = state === "failed";
  }

  function describe(status) {
    if (status.state === "failed") return ["failed", `The stream stopped: ${status.error}`];
    if (status.state === "ended") return ["ended", "The source has ended."];
    return null;
  }

  async function poll() {
    try {
      const response = await fetch(app.dataset.statusUrl, { cache: "no-store" });
      const status = await response.json();
      const over = describe(status);
      if (over) setState(...over);
    } catch {
      setState("failed", "The server cannot be reached.");
    }
  }

  function connect() {
    setState("connecting", "Connecting…");
    // a fresh URL, so the browser opens a new stream instead of reusing the finished one
    feed.src = `${app.dataset.feedUrl}?t=${Date.now()}`;
  }

  // Chromium fires "load" for the first frame and nothing when the stream ends, so the status is
  // polled while the stream plays to notice its end.
  feed.addEventListener("load", () => {
    if (app.dataset.state === "connecting") setState("live");
  });
  feed.addEventListener("error", () => {
    setState("failed", "The stream is not available.");
    poll();
  });
  reconnect.addEventListener("click", connect);
  setInterval(() => {
    if (app.dataset.state === "live") poll();
  }, POLL_MS);

  connect();
})();
