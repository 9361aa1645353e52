// Rendering of analysis results, shared by the webcam view, the image upload and the server stream:
// numbered boxes and labels on a canvas, a numbered list of faces, and the bar chart of one face's
// probabilities (the face chosen by a click, else the largest).
"use strict";

window.FER = (() => {
  // The model's classes and their colours come from the server (data-color on the bar rows), the same
  // ones drawn on the stream; so do the grey and the label of a face the model is unsure of.
  const colors = {};
  for (const row of document.querySelectorAll(".bars li[data-emotion]")) {
    colors[row.dataset.emotion] = row.dataset.color;
  }
  const { uncertainColor, uncertainLabel } = document.getElementById("app").dataset;
  const LABEL_CSS_PX = 14; // label text height as shown, whatever the canvas's own resolution

  const percent = (p) => `${Math.round(p * 100)}%`;

  /** A face's colour: its emotion's, or grey when it is uncertain. */
  const colorOf = (face) => (face.uncertain ? uncertainColor : colors[face.emotion]) || "#fff";

  /** "happy 87%", or "uncertain". */
  const labelOf = (face) =>
    face.uncertain ? uncertainLabel : `${face.emotion} ${percent(face.confidence)}`;

  /** The index of the face with the largest box (-1 for none). */
  function largest(faces) {
    let best = -1;
    faces.forEach((face, i) => {
      if (best < 0 || face.box[2] * face.box[3] > faces[best].box[2] * faces[best].box[3]) best = i;
    });
    return best;
  }

  /** Whether two results are the same face: the same track (the stream), or boxes that overlap well. */
  function sameFace(a, b) {
    if (a.track_id != null && b.track_id != null) return a.track_id === b.track_id;
    const [ax, ay, aw, ah] = a.box;
    const [bx, by, bw, bh] = b.box;
    const w = Math.min(ax + aw, bx + bw) - Math.max(ax, bx);
    const h = Math.min(ay + ah, by + bh) - Math.max(ay, by);
    const common = w > 0 && h > 0 ? w * h : 0;
    return common / (aw * ah + bw * bh - common) > 0.3;
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

  /**
   * One <li> per face, "Face N: label", carrying its result in data attributes (the browser test
   * reads them). Items are updated in place, so a click or the focus survives the next frame.
   */
  function renderFaceList(list, faces, shown, chosen) {
    while (list.children.length > faces.length) list.lastElementChild.remove();
    faces.forEach((face, i) => {
      let item = list.children[i];
      if (!item) {
        item = document.createElement("li");
        const button = document.createElement("button");
        button.type = "button";
        button.className = "face";
        const swatch = document.createElement("span");
        swatch.className = "swatch";
        button.append(swatch, document.createElement("span"));
        item.append(button);
        list.append(item);
      }
      Object.assign(item.dataset, {
        number: i + 1,
        emotion: face.emotion,
        confidence: face.confidence.toFixed(3),
        uncertain: face.uncertain,
        box: face.box.join(","),
      });
      item.classList.toggle("shown", i === shown);
      const button = item.firstElementChild;
      button.setAttribute("aria-pressed", i === chosen);
      const [swatch, text] = button.children;
      swatch.style.background = colorOf(face);
      text.textContent = `Face ${i + 1}: ${labelOf(face)}`;
    });
  }

  /**
   * A face list with the bar chart (and the `lead` line, if any) of one of its faces: the one chosen
   * by a click while it is still in view, else the largest; `caption` says which.
   */
  function facePanel({ list, bars, caption, lead = null }) {
    let faces = [];
    let chosen = null; // the chosen face as last seen; null: follow the largest

    /** Show a new set of faces; `fresh` (a new image) forgets the choice. */
    function show(next, fresh = false) {
      faces = next;
      if (fresh) chosen = null;
      const match = chosen ? faces.findIndex((face) => sameFace(face, chosen)) : -1;
      if (match >= 0) chosen = faces[match];
      const shown = match >= 0 ? match : largest(faces);
      const face = faces[shown] ?? null;
      renderFaceList(list, faces, shown, match);
      renderBars(bars, face);
      const why = match >= 0 ? "chosen" : chosen ? "largest; the chosen face is out of view" : "largest";
      caption.textContent = face ? `Face ${shown + 1} (${why})` : "";
      caption.hidden = !face;
      if (lead) {
        lead.textContent = face ? labelOf(face) : "No face in view";
        lead.dataset.emotion = face ? face.emotion : "";
        lead.dataset.uncertain = Boolean(face?.uncertain);
      }
    }

    /** Follow face `index` (of the faces shown), or the largest again if it is the one followed. */
    function choose(index) {
      if (index < 0 || index >= faces.length) return;
      chosen = faces[index] === chosen ? null : faces[index];
      show(faces);
    }

    list.addEventListener("click", (event) => {
      const item = event.target.closest("li");
      if (item) choose([...list.children].indexOf(item));
    });
    return { show, choose };
  }

  /**
   * Draw numbered boxes and labels, "#N label" as in the face list. `scale` maps image pixels to
   * canvas pixels; `mirrorWidth` (image pixels) flips boxes horizontally to match a mirrored video,
   * while the text stays readable. Labels are LABEL_CSS_PX high as the canvas is shown, however
   * large the canvas is. The canvas keeps what was drawn: `faceAreas`, each face's box and label
   * (canvas pixels, for `faceAt`), and data-labels and data-label-px (for tests).
   */
  function drawFaces(ctx, faces, scale, mirrorWidth = 0) {
    const canvas = ctx.canvas;
    const shownWidth = canvas.getBoundingClientRect().width;
    const font = Math.round(LABEL_CSS_PX * (shownWidth ? canvas.width / shownWidth : 1));
    ctx.font = `600 ${font}px system-ui, sans-serif`;
    ctx.textBaseline = "top";
    ctx.lineWidth = Math.max(2, font / 6);
    const labels = [];
    canvas.faceAreas = faces.map((face, i) => {
      const [bx, by, bw, bh] = face.box;
      const x = (mirrorWidth ? mirrorWidth - bx - bw : bx) * scale;
      const y = by * scale;
      const color = colorOf(face);
      ctx.strokeStyle = color;
      ctx.strokeRect(x, y, bw * scale, bh * scale);
      const text = `#${i + 1} ${labelOf(face)}`;
      const pad = font / 3;
      const width = ctx.measureText(text).width + 2 * pad;
      const height = font + 2 * pad;
      const top = y >= height ? y - height : y; // above the box, or inside it at the top edge
      const left = Math.max(0, Math.min(x - ctx.lineWidth / 2, canvas.width - width));
      ctx.fillStyle = color;
      ctx.fillRect(left, top, width, height);
      ctx.fillStyle = ink(color);
      ctx.fillText(text, left + pad, top + pad);
      labels.push(text);
      const x0 = Math.min(x, left);
      const y0 = Math.min(y, top);
      const x1 = Math.max(x + bw * scale, left + width);
      const y1 = Math.max(y + bh * scale, top + height);
      return [x0, y0, x1 - x0, y1 - y0];
    });
    canvas.dataset.labels = JSON.stringify(labels);
    canvas.dataset.labelPx = font;
  }

  /**
   * Which of `areas` (x, y, w, h, in pixels of an element `width` x `height` pixels large, such as a
   * canvas's `faceAreas` or an image's face boxes) a click on the element landed on: the smallest
   * holding it, or -1.
   */
  function faceAt(event, element, width, height, areas) {
    const rect = element.getBoundingClientRect();
    const x = ((event.clientX - rect.left) * width) / rect.width;
    const y = ((event.clientY - rect.top) * height) / rect.height;
    let best = -1;
    areas.forEach(([ax, ay, aw, ah], i) => {
      const inside = x >= ax && x <= ax + aw && y >= ay && y <= ay + ah;
      if (inside && (best < 0 || aw * ah < areas[best][2] * areas[best][3])) best = i;
    });
    return best;
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

  /** The facePanel of the live results block both pages include (templates/_expression.html). */
  function livePanel() {
    return facePanel({
      list: document.getElementById("faces"),
      bars: document.getElementById("live-bars"),
      caption: document.getElementById("live-caption"),
      lead: document.getElementById("top-emotion"),
    });
  }

  return { facePanel, livePanel, drawFaces, faceAt, predict };
})();
