// Rendering of /api/predict results, shared by the webcam view and the image upload:
// boxes and labels on a canvas, the bar chart of the model's probabilities, and a list of faces.
"use strict";

window.FER = (() => {
  // The model's classes and their colours come from the server (data-color on the bar rows), the same
  // ones drawn on the stream; so do the grey and the label of a face the model is unsure of.
  const colors = {};
  for (const row of document.querySelectorAll(".bars li[data-emotion]")) {
    colors[row.dataset.emotion] = row.dataset.color;
  }
  const { uncertainColor, uncertainLabel } = document.getElementById("app").dataset;

  const percent = (p) => `${Math.round(p * 100)}%`;

  /** A face's colour: its emotion's, or grey when it is uncertain. */
  const colorOf = (face) => (face.uncertain ? uncertainColor : colors[face.emotion]) || "#fff";

  /** "happy 87%", or "uncertain". */
  const labelOf = (face) =>
    face.uncertain ? uncertainLabel : `${face.emotion} ${percent(face.confidence)}`;

  /** The face with the largest box, whose probabilities the bar chart shows. */
  function largestFace(faces) {
    let best = null;
    for (const face of faces) {
      if (!best || face.box[2] * face.box[3] > best.box[2] * best.box[3]) best = face;
    }
    return best;
  }

  /** Fill a .bars list with one face's scores (or empty it for null). */
  function renderBars(list, face) {
    for (const row of list.querySelectorAll("li[data-emotion]")) {
      const p = face ? face.scores[row.dataset.emotion] ?? 0 : 0;
      const fill = row.querySelector(".fill");
      fill.style.width = `${(p * 100).toFixed(1)}%`;
      fill.style.background = row.dataset.color;
      row.querySelector(".value").textContent = face ? percent(p) : "–";
      row.classList.toggle("top", Boolean(face) && row.dataset.emotion === face.emotion);
    }
  }

  /** One <li> per face, carrying its result in data attributes (the browser test reads them). */
  function renderFaceList(list, faces) {
    list.replaceChildren(...faces.map((face, i) => {
      const item = document.createElement("li");
      item.dataset.emotion = face.emotion;
      item.dataset.confidence = face.confidence.toFixed(3);
      item.dataset.uncertain = face.uncertain;
      item.dataset.box = face.box.join(",");
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = colorOf(face);
      item.append(swatch, `Face ${i + 1}: ${labelOf(face)}`);
      return item;
    }));
  }

  /**
   * Draw boxes and labels. `scale` maps image pixels to canvas pixels; `mirrorWidth` (image
   * pixels) flips boxes horizontally to match a mirrored video, while the text stays readable.
   */
  function drawFaces(ctx, faces, scale, mirrorWidth = 0) {
    const font = Math.max(12, Math.round(14 * (window.devicePixelRatio || 1)));
    ctx.font = `600 ${font}px system-ui, sans-serif`;
    ctx.textBaseline = "top";
    for (const face of faces) {
      const [bx, by, bw, bh] = face.box;
      const x = (mirrorWidth ? mirrorWidth - bx - bw : bx) * scale;
      const y = by * scale;
      const color = colorOf(face);
      ctx.lineWidth = Math.max(2, font / 6);
      ctx.strokeStyle = color;
      ctx.strokeRect(x, y, bw * scale, bh * scale);
      const text = labelOf(face);
      const pad = font / 3;
      const width = ctx.measureText(text).width + 2 * pad;
      const height = font + 2 * pad;
      const top = y >= height ? y - height : y; // above the box, or inside it at the top edge
      const left = Math.max(0, Math.min(x - ctx.lineWidth / 2, ctx.canvas.width - width));
      ctx.fillStyle = color;
      ctx.fillRect(left, top, width, height);
      ctx.fillStyle = ink(color);
      ctx.fillText(text, left + pad, top + pad);
    }
  }

  /** Black text on light colours, white on dark ones (as the server's drawing does). */
  function ink(hex) {
    const n = parseInt(hex.slice(1), 16);
    const luma = 0.299 * (n >> 16) + 0.587 * ((n >> 8) & 255) + 0.114 * (n & 255);
    return luma > 140 ? "#000" : "#fff";
  }

  /** POST an image body to the API; resolves to the JSON result or throws an Error with its message. */
  async function predict(url, body, headers = {}) {
    const response = await fetch(url, { method: "POST", body, headers });
    let result = null;
    try {
      result = await response.json();
    } catch {
      // not JSON: a proxy error page or a dropped connection; reported below
    }
    if (!response.ok || !result) {
      throw new Error(result?.error || `the server answered ${response.status}`);
    }
    return result;
  }

  return { colors, largestFace, renderBars, renderFaceList, drawFaces, predict, labelOf };
})();
