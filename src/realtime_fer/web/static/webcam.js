// The visitor's own camera: grab a frame from the <video>, POST it as JPEG, draw the answer, repeat.
// Only one request is in flight at a time, so the loop runs as fast as the server answers and no
// faster; Pause stops it (nothing is sent) and freezes the video under the last answer. The state
// of the page is exposed on <main data-state=...> for tests and styling.
"use strict";

(() => {
  const app = document.getElementById("app");
  const video = document.getElementById("video");
  const overlay = document.getElementById("overlay");
  const notice = document.getElementById("camera-notice");
  const fpsOut = document.getElementById("fps");
  const latencyOut = document.getElementById("latency");
  const pauseButton = document.getElementById("pause");
  const cameraSelect = document.getElementById("camera");
  const panel = FER.livePanel();
  const predictUrl = app.dataset.predictUrl;
  const MAX_CAPTURE_WIDTH = 640; // larger frames cost upload time and the detector downsizes anyway
  const capture = document.createElement("canvas");

  function setState(state, message = "") {
    app.dataset.state = state;
    notice.textContent = message;
    notice.hidden = !message;
    pauseButton.disabled = !["running", "retrying", "paused"].includes(state);
    pauseButton.textContent = state === "paused" ? "Resume" : "Pause";
    pauseButton.setAttribute("aria-pressed", state === "paused");
  }

  const analysing = () => app.dataset.state === "running" || app.dataset.state === "retrying";

  /** A friendly explanation for each way getUserMedia can fail. */
  function cameraProblem(error) {
    switch (error?.name) {
      case "NotAllowedError":
      case "SecurityError":
        return ["denied", "Camera access was denied. Allow it in your browser's address bar and " +
          "reload the page, or analyse an image below."];
      case "NotFoundError":
      case "OverconstrainedError":
        return ["no-camera", "No camera was found. You can still analyse an image below."];
      case "NotReadableError":
        return ["no-camera", "Your camera is busy in another application. Close it and reload."];
      default:
        return ["error", `The camera could not be started (${error?.message || error}).`];
    }
  }

  /** Open the camera `deviceId` (default: the one facing the user) and analyse it; one chosen while
   * the page is paused shows its picture and stays paused. */
  async function startCamera(deviceId = "") {
    const paused = app.dataset.state === "paused";
    if (!navigator.mediaDevices?.getUserMedia) {
      // browsers only offer cameras to secure pages: https:// or http://localhost
      setState("no-camera", "This browser offers no camera on this page. Open it via " +
        "http://localhost or https://, or analyse an image below.");
      return;
    }
    for (const track of video.srcObject?.getTracks() ?? []) track.stop();
    const choice = deviceId ? { deviceId: { exact: deviceId } } : { facingMode: "user" };
    try {
      video.srcObject = await navigator.mediaDevices.getUserMedia({
        video: { width: { ideal: 640 }, height: { ideal: 480 }, ...choice },
        audio: false,
      });
      await video.play();
    } catch (error) {
      setState(...cameraProblem(error));
      return;
    }
    await listCameras();
    if (paused) {
      video.pause();
      overlay.getContext("2d").clearRect(0, 0, overlay.width, overlay.height); // the other camera's boxes
      return;
    }
    setState("running");
    loop();
  }

  /** Offer every camera (their names are known once access is granted), the one in use selected. */
  async function listCameras() {
    const cameras = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === "videoinput");
    const current = video.srcObject.getVideoTracks()[0]?.getSettings().deviceId;
    cameraSelect.replaceChildren(...cameras.map((camera, i) =>
      new Option(camera.label || `Camera ${i + 1}`, camera.deviceId, false, camera.deviceId === current)));
    cameraSelect.disabled = cameras.length < 2;
  }

  const nextFrame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  /** The current video frame as a JPEG blob, at most MAX_CAPTURE_WIDTH wide. */
  function grab() {
    const scale = Math.min(1, MAX_CAPTURE_WIDTH / video.videoWidth);
    capture.width = Math.round(video.videoWidth * scale);
    capture.height = Math.round(video.videoHeight * scale);
    capture.getContext("2d").drawImage(video, 0, 0, capture.width, capture.height);
    return new Promise((resolve) => capture.toBlob(resolve, "image/jpeg", 0.85));
  }

  function show(result) {
    const rect = video.getBoundingClientRect();
    const ratio = window.devicePixelRatio || 1;
    overlay.width = Math.round(rect.width * ratio);
    overlay.height = Math.round(rect.height * ratio);
    const ctx = overlay.getContext("2d");
    ctx.clearRect(0, 0, overlay.width, overlay.height);
    // the video is mirrored like a looking glass, so the boxes are too
    FER.drawFaces(ctx, result.faces, overlay.width / result.image.width, result.image.width);
    panel.show(result.faces);
    latencyOut.textContent = Math.round(result.timings_ms.total);
    app.dataset.faces = result.faces.length;
    app.dataset.frames = Number(app.dataset.frames) + 1;
  }

  let looping = false;

  /** Analyse frames while the state says so; a second call while one loop runs does nothing. */
  async function loop() {
    if (looping) return;
    looping = true;
    let last = performance.now();
    let fps = 0;
    while (analysing()) {
      // requestAnimationFrame also pauses the loop while the tab is hidden
      await nextFrame();
      if (video.readyState < video.HAVE_CURRENT_DATA || !video.videoWidth) continue;
      try {
        const blob = await grab();
        if (!analysing()) break; // paused meanwhile: send nothing
        // video=1: a camera frame gets one fast detector pass, not a still's search for small faces
        const result = await FER.predict(`${predictUrl}?video=1`, blob, { "Content-Type": "image/jpeg" });
        if (!analysing()) break; // paused meanwhile: the answer shown at the pause stays
        show(result);
        if (app.dataset.state !== "running") setState("running");
      } catch (error) {
        if (!analysing()) break;
        setState("retrying", `The server did not answer (${error.message}); retrying…`);
        await sleep(1000);
        continue;
      }
      const now = performance.now();
      fps = fps ? 0.9 * fps + 0.1 * (1000 / (now - last)) : 1000 / (now - last);
      last = now;
      fpsOut.textContent = fps.toFixed(1);
    }
    looping = false;
  }

  pauseButton.addEventListener("click", () => {
    if (app.dataset.state === "paused") {
      setState("running");
      video.play();
      loop();
    } else {
      setState("paused");
      video.pause(); // the frame under the last answer stays
    }
  });
  cameraSelect.addEventListener("change", () => startCamera(cameraSelect.value));
  overlay.addEventListener("click", (event) =>
    panel.choose(FER.faceAt(event, overlay, overlay.width, overlay.height, overlay.faceAreas || [])));

  // --- one image, dropped or chosen ---
  const drop = document.getElementById("drop");
  const fileInput = document.getElementById("file");
  const uploadError = document.getElementById("upload-error");
  const uploadResult = document.getElementById("upload-result");
  const uploadCanvas = document.getElementById("upload-canvas");
  const uploadStats = document.getElementById("upload-stats");
  const MAX_PREVIEW_WIDTH = 1280;
  const uploadPanel = FER.facePanel({
    list: document.getElementById("upload-faces"),
    bars: document.getElementById("upload-bars"),
    caption: document.getElementById("upload-caption"),
  });
  uploadCanvas.addEventListener("click", (event) => uploadPanel.choose(
    FER.faceAt(event, uploadCanvas, uploadCanvas.width, uploadCanvas.height, uploadCanvas.faceAreas || [])));

  function showUploadError(message) {
    uploadError.textContent = message;
    uploadError.hidden = false;
    uploadResult.hidden = true;
  }

  async function analyse(file) {
    uploadError.hidden = true;
    const limit = Number(app.dataset.maxUpload);
    if (file.size > limit) {
      // the server would refuse it anyway; say so without sending megabytes
      const mb = (bytes) => (bytes / 2 ** 20).toFixed(1);
      showUploadError(`${file.name} is ${mb(file.size)} MB; the limit is ${mb(limit)} MB.`);
      return;
    }
    drop.classList.add("busy");
    const form = new FormData();
    form.append("image", file);
    try {
      const result = await FER.predict(predictUrl, form);
      // the browser applies EXIF orientation as OpenCV does, so the boxes line up
      const bitmap = await createImageBitmap(file);
      const scale = Math.min(1, MAX_PREVIEW_WIDTH / bitmap.width);
      uploadCanvas.width = Math.round(bitmap.width * scale);
      uploadCanvas.height = Math.round(bitmap.height * scale);
      uploadResult.hidden = false; // shown first: labels are sized for the canvas as it is shown
      const ctx = uploadCanvas.getContext("2d");
      ctx.drawImage(bitmap, 0, 0, uploadCanvas.width, uploadCanvas.height);
      FER.drawFaces(ctx, result.faces, uploadCanvas.width / result.image.width);
      uploadPanel.show(result.faces, true);
      const count = result.faces.length;
      uploadStats.textContent = `${count} face${count === 1 ? "" : "s"} · ` +
        `${result.image.width}×${result.image.height} · ${Math.round(result.timings_ms.total)} ms`;
    } catch (error) {
      showUploadError(`Could not analyse ${file.name}: ${error.message}`);
    } finally {
      drop.classList.remove("busy");
    }
  }

  fileInput.addEventListener("change", () => fileInput.files[0] && analyse(fileInput.files[0]));
  for (const type of ["dragenter", "dragover"]) {
    drop.addEventListener(type, (event) => {
      event.preventDefault();
      drop.classList.add("over");
    });
  }
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    const file = event.dataTransfer.files[0];
    if (file) analyse(file);
  });

  startCamera();
})();
