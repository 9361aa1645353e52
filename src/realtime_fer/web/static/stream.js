// The server's MJPEG stream in an <img>, with its fps and the faces of its latest frame beside it.
// An <img> cannot say why a stream stopped, so the page asks /api/stream_status whenever the image
// fails, and a few times a second while it plays (one request at a time), for the faces too.
"use strict";

(() => {
  const app = document.getElementById("app");
  const feed = document.getElementById("feed");
  const notice = document.getElementById("stream-notice");
  const reconnect = document.getElementById("reconnect");
  const fpsOut = document.getElementById("fps");
  const panel = FER.livePanel();
  const POLL_MS = 250; // at most four status requests a second per viewer
  let faces = []; // the latest frame's, in the order the server numbers them on the image

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
    let status;
    try {
      const response = await fetch(app.dataset.statusUrl, { cache: "no-store" });
      if (!response.ok) throw new Error(`the server answered ${response.status}`);
      status = await response.json();
    } catch {
      setState("failed", "The server cannot be reached.");
      return;
    }
    const over = describe(status);
    if (over) {
      setState(...over);
      return;
    }
    fpsOut.textContent = status.fps ? status.fps.toFixed(1) : "–";
    faces = status.faces;
    panel.show(faces);
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  let watching = false;

  /** Poll while the stream plays; a second call while one loop runs does nothing. */
  async function watch() {
    if (watching) return;
    watching = true;
    while (app.dataset.state === "live") {
      await poll();
      await sleep(POLL_MS);
    }
    watching = false;
  }

  function connect() {
    setState("connecting", "Connecting…");
    // a fresh URL, so the browser opens a new stream instead of reusing the finished one
    feed.src = `${app.dataset.feedUrl}?t=${Date.now()}`;
  }

  // Chromium fires "load" for the first frame and nothing when the stream ends, so the status is
  // polled while the stream plays to notice its end.
  feed.addEventListener("load", () => {
    if (app.dataset.state !== "connecting") return;
    setState("live");
    watch();
  });
  feed.addEventListener("error", () => {
    setState("failed", "The stream is not available.");
    poll();
  });
  feed.addEventListener("click", (event) => panel.choose(
    FER.faceAt(event, feed, feed.naturalWidth, feed.naturalHeight, faces.map((face) => face.box))));
  reconnect.addEventListener("click", connect);

  connect();
})();
