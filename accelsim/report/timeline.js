// Interactive timeline of report.html (accelsim.report.interactive): lanes of intervals on a
// canvas. Wheel zooms around the cursor, drag pans, hover shows the interval, "reset zoom"
// shows the whole run. Intervals narrower than a pixel are summed per pixel column and drawn
// as a stacked column of their codes' shares, so a 50k-tile run draws as fast as a small one.
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("tl-data").textContent);
  var canvas = document.getElementById("tl"), tip = document.getElementById("tl-tip");
  var ctx = canvas.getContext("2d");
  var LABEL = 130, TOP = 22, LANE = 16, GAP = 3;
  var lanes = D.lanes, ncodes = D.codes.length;
  var view = {t0: 0, t1: Math.max(D.cycles, 1)};
  var state = {view: view, lanes: lanes.length, drawn: 0, aggregated: 0};
  window.accelsimTimeline = state;
  var cpByUnit = {};
  D.cp_compute.forEach(function (c) { (cpByUnit[c[2]] = cpByUnit[c[2]] || []).push(c); });

  function width() { return canvas.clientWidth || 1000; }
  function resize() {
    var dpr = window.devicePixelRatio || 1, w = width();
    var h = TOP + lanes.length * (LANE + GAP) + 4;
    canvas.style.height = h + "px";
    canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  }
  function us(c) { return c / D.clock_mhz; }
  function fmt(c) { var u = us(c); return u >= 1000 ? (u / 1000).toFixed(3) + " ms" : u.toFixed(2) + " µs"; }
  // first interval of a lane that ends after t (intervals sorted by start, not overlapping)
  function firstAfter(iv, t) {
    var lo = 0, hi = iv.length / 5;
    while (lo < hi) { var m = (lo + hi) >> 1; if (iv[5 * m] + iv[5 * m + 1] <= t) lo = m + 1; else hi = m; }
    return lo;
  }
  function ticks(w) {
    var span = view.t1 - view.t0, step = Math.pow(10, Math.floor(Math.log10(span / 8)));
    if (span / step > 16) step *= 5; else if (span / step > 8) step *= 2;
    ctx.fillStyle = "#555"; ctx.font = "11px sans-serif"; ctx.textAlign = "center";
    for (var t = Math.ceil(view.t0 / step) * step; t <= view.t1; t += step) {
      var x = LABEL + (t - view.t0) / span * w;
      ctx.fillRect(x, TOP - 5, 1, 5);
      ctx.fillText(fmt(t), x, TOP - 8);
    }
  }
  function draw() {
    var w = width() - LABEL, span = view.t1 - view.t0, k = w / span;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ticks(w);
    var drawn = 0, agg = 0, px = Math.ceil(w), cov = new Float32Array(px * ncodes);
    for (var li = 0; li < lanes.length; li++) {
      var lane = lanes[li], iv = lane.iv, y = TOP + li * (LANE + GAP);
      ctx.fillStyle = "#f4f4f4"; ctx.fillRect(LABEL, y, w, LANE);
      ctx.fillStyle = "#222"; ctx.textAlign = "right"; ctx.font = "11px sans-serif";
      ctx.fillText(lane.name, LABEL - 6, y + LANE - 4);
      cov.fill(0);
      var any = false;
      for (var i = firstAfter(iv, view.t0); i < iv.length / 5; i++) {
        var s = iv[5 * i], d = iv[5 * i + 1];
        if (s >= view.t1) break;
        var x0 = (Math.max(s, view.t0) - view.t0) * k, x1 = (Math.min(s + d, view.t1) - view.t0) * k;
        if (x1 - x0 >= 1) {
          ctx.fillStyle = D.colors[iv[5 * i + 2]];
          ctx.fillRect(LABEL + x0, y, x1 - x0, LANE); drawn++;
        } else {  // narrower than a pixel: add its share to the pixel columns it touches
          var c = iv[5 * i + 2], p = Math.floor(x0);
          while (p < px && p <= x1) {
            var part = Math.min(x1, p + 1) - Math.max(x0, p);
            if (part > 0) cov[p * ncodes + c] += part;
            p++;
          }
          any = true; agg++;
        }
      }
      if (any) {
        for (var q = 0; q < px; q++) {
          var base = y + LANE;
          for (var cc = 0; cc < ncodes; cc++) {
            var f = cov[q * ncodes + cc];
            if (f > 0) {
              var h = Math.min(f, 1) * LANE; ctx.fillStyle = D.colors[cc];
              ctx.fillRect(LABEL + q, base - h, 1, h); base -= h;
            }
          }
        }
      }
      var path = lane.id && cpByUnit[lane.id];
      if (path) {  // compute on the critical path: outlined
        ctx.strokeStyle = "#000"; ctx.lineWidth = 2;
        path.forEach(function (c) {
          if (c[1] <= view.t0 || c[0] >= view.t1) return;
          var a = (Math.max(c[0], view.t0) - view.t0) * k, b = (Math.min(c[1], view.t1) - view.t0) * k;
          ctx.strokeRect(LABEL + a, y + 1, Math.max(b - a, 1), LANE - 2);
        });
      }
    }
    state.drawn = drawn; state.aggregated = agg;
    document.getElementById("tl-range").textContent = fmt(view.t0) + " – " + fmt(view.t1) +
      " (" + Math.round(view.t1 - view.t0).toLocaleString() + " cycles)";
  }
  function timeAt(x) { return view.t0 + (x - LABEL) / (width() - LABEL) * (view.t1 - view.t0); }
  function clamp() {
    var span = Math.min(Math.max(view.t1 - view.t0, 10), Math.max(D.cycles, 1));
    view.t0 = Math.max(0, Math.min(view.t0, D.cycles - span)); view.t1 = view.t0 + span;
  }
  canvas.addEventListener("wheel", function (e) {
    e.preventDefault();
    var x = e.offsetX; if (x < LABEL) return;
    var t = timeAt(x), f = Math.exp((e.deltaY || 0) * 0.002);
    view.t0 = t - (t - view.t0) * f; view.t1 = t + (view.t1 - t) * f; clamp(); draw();
  }, {passive: false});
  var drag = null;
  canvas.addEventListener("mousedown", function (e) { drag = {x: e.clientX, t0: view.t0, t1: view.t1}; });
  window.addEventListener("mouseup", function () { drag = null; });
  window.addEventListener("mousemove", function (e) {
    if (!drag) return;
    var dt = (e.clientX - drag.x) / (width() - LABEL) * (drag.t1 - drag.t0);
    view.t0 = drag.t0 - dt; view.t1 = drag.t1 - dt; clamp(); draw();
  });
  canvas.addEventListener("mousemove", function (e) {
    var li = Math.floor((e.offsetY - TOP) / (LANE + GAP));
    if (drag || e.offsetX < LABEL || li < 0 || li >= lanes.length) { tip.style.display = "none"; return; }
    var lane = lanes[li], iv = lane.iv, t = timeAt(e.offsetX);
    var slack = (view.t1 - view.t0) / (width() - LABEL);  // one pixel
    var i = firstAfter(iv, t - slack);
    if (i >= iv.length / 5 || iv[5 * i] > t + slack) { tip.style.display = "none"; return; }
    var s = iv[5 * i], d = iv[5 * i + 1], code = D.codes[iv[5 * i + 2]], op = D.ops[iv[5 * i + 3]];
    var lines = [lane.name + ": " + code, op ? "op " + op[0] + " (" + op[1] + ", layer " + op[2] + ")" : "",
      "cycles " + s.toLocaleString() + " – " + (s + d).toLocaleString() + " (" + d.toLocaleString() + ")"];
    var extra = iv[5 * i + 4];
    if (lane.kind === "unit" && extra >= 0) lines.push("tile " + extra);
    if (lane.kind === "memory") lines.push(extra.toLocaleString() + " bytes");
    if (lane.kind === "path") lines.push("on " + D.cp_labels[i] + (extra >= 0 ? ", " + D.roles[extra] : ""));
    tip.textContent = lines.filter(Boolean).join("\n");
    tip.style.display = "block";
    tip.style.left = (e.offsetX + 14) + "px"; tip.style.top = (e.offsetY + 10) + "px";
  });
  canvas.addEventListener("mouseleave", function () { tip.style.display = "none"; });
  document.getElementById("tl-reset").addEventListener("click", function () {
    view.t0 = 0; view.t1 = Math.max(D.cycles, 1); draw();
  });
  window.addEventListener("resize", function () { resize(); draw(); });
  resize(); draw();
})();
