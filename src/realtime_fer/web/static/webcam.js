// The visitor's own camera: grab a frame from the <video>, POST it as JPEG, draw the answer, repeat.
// Only one request is in flight at a time, so the loop runs as fast as the server answers and no
// faster. The state of the page is exposed on <main data-state=...> for tests and styling.
"use strict";

(() => {
  const app = document.getElementById("app");
  const video = document.getElementById("video");
  const overlay = document.getElementById("overlay");
  const notice = document.getElementById("camera-notice");
  const fpsOut = document.getElementById("fps");
  const latencyOut = document.getElementById("latency");
  const topEmotion = document.getElementById("top-emotion");
  const liveBars = document.getElementById("live-bars");
  const faceList = document.getElementById("faces");
  const predictUrl = app.dataset.predictUrl;
  const MAX_CAPTURE_WIDTH = 640; // larger frames cost upload time and the detector downsizes anyway
  const capture = document.createElement("canvas");

  function setState(state, message = "") {
    app.dataset.state = state;
    notice.textContent = message;
    notice.hidden = !message;
  }

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

  async function startCamera() {
    if (!navigator.mediaDevices?.getUserMedia) {
      // browsers only offer cameras to secure pages: https:// or http://localhost
      setState("no-camera", "This browser offers no camera on this page. Open it via " +
        "http://localhost or https://, or analyse an image below.");
      return;
    }
    try {
      video.srcObject = await navigator.mediaDevices.getUserMedia({
        video: { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: "user" },
        audio: false,
      });
      await video.play();
    } catch (error) {
      setState(...cameraProblem(error));
      return;
    }
    setState("running");
    loop();
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
    const face = FER.largestFace(result.faces);
    FER.renderBars(liveBars, face);
    FER.renderFaceList(faceList, result.faces);
    topEmotion.textContent = face ? FER.labelOf(face) : "No face in view";
    topEmotion.dataset.emotion = face ? face.emotion : "";
    topEmotion.dataset.uncertain = Boolean(face?.uncertain);
    latencyOut.textContent = Math.round(result.timings_ms.total);
    app.dataset.faces = result.faces.length;
    app.dataset.frames = Number(app.dataset.frames) + 1;
  }

  async function loop() {
    let last = performance.now();
    let fps = 0;
    while (app.dataset.state === "running" || app.dataset.state === "retrying") {
      // requestAnimationFrame also pauses the loop while the tab is hidden
      await nextFrame();
      if (video.readyState < video.HAVE_CURRENT_DATA || !video.videoWidth) continue;
      try {
        const blob = await grab();
        // video=1: a camera frame gets one fast detector pass, not a still's search for small faces
        show(await FER.predict(`${predictUrl}?video=1`, blob, { "Content-Type": "image/jpeg" }));
        if (app.dataset.state !== "running") setState("running");
      } catch (error) {
        setState("retrying", `The server did not answer (${error.message}); retrying…`);
        await sleep(1000);
        continue;
      }
      const now = performance.now();
      fps = fps ? 0.9 * fps + 0.1 * (1000 / (now - last)) : 1000 / (now - last);
      last = now;
      fpsOut.textContent = fps.toFixed(1);
    }
  }

  // --- one image, dropped or chosen ---
  const drop = document.getElementById("drop");
  const fileInput = document.getElementById("file");
  const uploadError = document.getElementById("upload-error");
  const uploadResult = document.getElementById("upload-result");
  const uploadCanvas = document.getElementById("upload-canvas");
  const uploadStats = document.getElementById("upload-stats");
  const MAX_PREVIEW_WIDTH = 1280;

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
      const ctx = uploadCanvas.getContext("2d");
      ctx.drawImage(bitmap, 0, 0, uploadCanvas.width, uploadCanvas.height);
      FER.drawFaces(ctx, result.faces, uploadCanvas.width / result.image.width);
      FER.renderBars(document.getElementById("upload-bars"), FER.largestFace(result.faces));
      FER.renderFaceList(document.getElementById("upload-faces"), result.faces);
      const count = result.faces.length;
      uploadStats.textContent = `${count} face${count === 1 ? "" : "s"} · ` +
        `${result.image.width}×${result.image.height} · ${Math.round(result.timings_ms.total)} ms`;
      uploadResult.hidden = false;
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
