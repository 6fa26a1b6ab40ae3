/* summary.html: sortable/filterable tables and the interactive session time courses.
   Plain JavaScript, no library, no network. Text from the study is only ever set with
   textContent / setAttribute, never parsed as HTML. */
(function () {
  'use strict';
  var NS = 'http://www.w3.org/2000/svg';

  function svgEl(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (parent) { parent.appendChild(e); }
    return e;
  }

  document.querySelectorAll('.swatch[data-colour]').forEach(function (s) {
    s.style.background = s.getAttribute('data-colour');
  });

  /* ---------- tables: click a column name to sort, type to filter ---------- */
  function sortTable(table, index, th) {
    var dir = th.getAttribute('aria-sort') === 'ascending' ? 'descending' : 'ascending';
    Array.prototype.forEach.call(th.parentNode.cells, function (c) { c.setAttribute('aria-sort', 'none'); });
    th.setAttribute('aria-sort', dir);
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var key = function (r) { return r.cells[index].getAttribute('data-sort'); };
    var numeric = rows.every(function (r) { var k = key(r); return k === '' || isFinite(parseFloat(k)); });
    rows.sort(function (a, b) {
      var x = key(a), y = key(b);
      if (x === '' && y === '') { return 0; }
      if (x === '') { return 1; }   /* missing values last in both directions */
      if (y === '') { return -1; }
      var c = numeric ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
      return dir === 'ascending' ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  document.querySelectorAll('table.sortable').forEach(function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
      var go = function () { sortTable(table, i, th); };
      th.addEventListener('click', go);
      th.addEventListener('keydown', function (e) {
        if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); go(); }
      });
    });
  });
  document.querySelectorAll('button.allcols').forEach(function (b) {
    var label = b.textContent;
    b.addEventListener('click', function () {
      var table = document.getElementById(b.getAttribute('data-table'));
      var all = table.classList.toggle('all');
      b.setAttribute('aria-pressed', all ? 'true' : 'false');
      b.textContent = all ? 'show the key columns only' : label;
    });
  });
  document.querySelectorAll('input.filter').forEach(function (input) {
    input.addEventListener('input', function () {
      var table = document.getElementById(input.getAttribute('data-table'));
      var q = input.value.trim().toLowerCase();
      Array.prototype.forEach.call(table.tBodies[0].rows, function (r) {
        r.hidden = q !== '' && r.textContent.toLowerCase().indexOf(q) < 0;
      });
    });
  });

  /* ---------- time courses ---------- */
  var W = 1000, LEFT = 70, RIGHT = 12, TOP = 10, MAIN = 190, LANE = 24, AXIS = 44;

  function niceStep(span, target) {
    var raw = span / target, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    var steps = [1, 2, 5, 10];
    for (var i = 0; i < steps.length; i++) { if (raw <= steps[i] * mag) { return steps[i] * mag; } }
    return 10 * mag;
  }
  function fmt(x) { if (Math.abs(x) < 1e-9) { return '0'; } return Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 1 ? x.toFixed(1) : x.toPrecision(2); }

  function TimeCourse(box) {
    var d = JSON.parse(box.querySelector('.tc-data').textContent);
    var self = this;
    this.box = box; this.d = d;
    var n = d.t.length;
    this.tmin = n ? d.t[0] - d.half : 0;
    this.tmax = n ? d.t[n - 1] + d.half : 1;
    this.view = [this.tmin, this.tmax];
    this.focus = null;
    var ys = [];
    [d.v, d.phase_lo, d.phase_hi, d.pseudo].forEach(function (a) {
      (a || []).forEach(function (v) { if (v !== null) { ys.push(v); } });
    });
    var lo = ys.length ? Math.min.apply(null, ys) : 0, hi = ys.length ? Math.max.apply(null, ys) : 1;
    if (hi === lo) { hi = lo + 1; }
    var pad = 0.06 * (hi - lo);
    this.y0 = lo - pad; this.y1 = hi + pad;
    this.H = TOP + MAIN + LANE * d.reporters.length + AXIS;
    this.svg = svgEl('svg', {viewBox: '0 0 ' + W + ' ' + this.H, role: 'img',
      'aria-label': 'time course of ' + d.key});
    box.querySelector('.tc-plot').appendChild(this.svg);
    this.tip = box.querySelector('.tc-tip');
    this.range = box.querySelector('.tc-range');
    this.render();

    box.querySelectorAll('button[data-zoom]').forEach(function (b) {
      b.addEventListener('click', function () {
        var z = b.getAttribute('data-zoom');
        var c = (self.view[0] + self.view[1]) / 2, span = self.view[1] - self.view[0];
        if (z === 'reset') { self.setView(self.tmin, self.tmax); }
        else { var s = z === 'in' ? span / 2 : span * 2; self.setView(c - s / 2, c + s / 2); }
      });
    });
    this.svg.addEventListener('wheel', function (e) {
      e.preventDefault();
      var t = self.timeAt(e.clientX), f = e.deltaY < 0 ? 0.8 : 1.25;
      self.setView(t - (t - self.view[0]) * f, t + (self.view[1] - t) * f);
    }, {passive: false});
    var drag = null;
    this.svg.addEventListener('pointerdown', function (e) {
      drag = {x: e.clientX, view: self.view.slice()};
    });
    window.addEventListener('pointerup', function () { drag = null; });
    this.svg.addEventListener('pointermove', function (e) {
      if (drag && e.buttons) {
        var rect = self.svg.getBoundingClientRect();
        var dt = (e.clientX - drag.x) / rect.width * W / (W - LEFT - RIGHT) * (drag.view[1] - drag.view[0]);
        if (Math.abs(e.clientX - drag.x) > 3) { self.setView(drag.view[0] - dt, drag.view[1] - dt); }
        return;
      }
      self.hover(e);
    });
    this.svg.addEventListener('pointerleave', function () { self.tip.hidden = true; self.cursor(null); });
    this.svg.addEventListener('dblclick', function () { self.setView(self.tmin, self.tmax); });
  }

  TimeCourse.prototype.x = function (t) {
    return LEFT + (t - this.view[0]) / (this.view[1] - this.view[0]) * (W - LEFT - RIGHT);
  };
  TimeCourse.prototype.y = function (v) {
    return TOP + MAIN - (v - this.y0) / (this.y1 - this.y0) * MAIN;
  };
  TimeCourse.prototype.timeAt = function (clientX) {
    var rect = this.svg.getBoundingClientRect();
    var px = (clientX - rect.left) / rect.width * W;
    return this.view[0] + (px - LEFT) / (W - LEFT - RIGHT) * (this.view[1] - this.view[0]);
  };
  TimeCourse.prototype.setView = function (a, b) {
    var full = this.tmax - this.tmin, span = Math.max(Math.min(b - a, full), Math.min(4 * this.d.half, full));
    a = Math.max(this.tmin, Math.min(a, this.tmax - span));
    this.view = [a, a + span];
    this.render();
  };
  TimeCourse.prototype.jump = function (onset, duration) {
    var pad = Math.max(10, duration / 2);
    this.focus = onset;
    this.setView(onset - pad, onset + Math.max(duration, 1) + pad);
  };
  TimeCourse.prototype.path = function (values) {
    var d = '', pen = false, t = this.d.t;
    for (var i = 0; i < t.length; i++) {
      if (values[i] === null || values[i] === undefined) { pen = false; continue; }
      d += (pen ? 'L' : 'M') + this.x(t[i]).toFixed(1) + ',' + this.y(values[i]).toFixed(1);
      pen = true;
    }
    return d;
  };
  TimeCourse.prototype.band = function (lo, hi) {
    var out = [], seg = [], t = this.d.t, self = this;
    function flush() {
      if (seg.length > 1) {
        var up = seg.map(function (i) { return self.x(t[i]).toFixed(1) + ',' + self.y(hi[i]).toFixed(1); });
        var down = seg.slice().reverse().map(function (i) { return self.x(t[i]).toFixed(1) + ',' + self.y(lo[i]).toFixed(1); });
        out.push('M' + up.join('L') + 'L' + down.join('L') + 'Z');
      }
      seg = [];
    }
    for (var i = 0; i < t.length; i++) {
      if (lo[i] === null || hi[i] === null || lo[i] === undefined || hi[i] === undefined) { flush(); } else { seg.push(i); }
    }
    flush();
    return out.join('');
  };
  TimeCourse.prototype.render = function () {
    var d = this.d, svg = this.svg, self = this;
    while (svg.firstChild) { svg.removeChild(svg.firstChild); }
    svg.setAttribute('data-t0', this.view[0].toFixed(3));
    svg.setAttribute('data-t1', this.view[1].toFixed(3));
    if (this.focus !== null) { svg.setAttribute('data-focus', String(this.focus)); }
    var clipId = 'clip-' + d.key.replace(/[^A-Za-z0-9]/g, '_');
    var clip = svgEl('clipPath', {id: clipId}, svgEl('defs', {}, svg));
    svgEl('rect', {x: LEFT, y: 0, width: W - LEFT - RIGHT, height: this.H}, clip);
    var g = svgEl('g', {'clip-path': 'url(#' + clipId + ')'}, svg);
    /* y axis and grid */
    var ystep = niceStep(this.y1 - this.y0, 4);
    for (var yv = Math.ceil(this.y0 / ystep) * ystep; yv <= this.y1; yv += ystep) {
      svgEl('line', {x1: LEFT, x2: W - RIGHT, y1: this.y(yv), y2: this.y(yv), stroke: Math.abs(yv) < 1e-12 ? '#888' : '#eee'}, svg);
      svgEl('text', {x: LEFT - 6, y: this.y(yv) + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#555'}, svg).textContent = fmt(yv);
    }
    var ylab = svgEl('text', {x: 14, y: TOP + MAIN / 2, 'font-size': 11, fill: '#333', 'text-anchor': 'middle',
      transform: 'rotate(-90 14 ' + (TOP + MAIN / 2) + ')'}, svg);
    ylab.textContent = d.label || (d.band + ' ' + d.metric);
    if (d.phase_lo.length) { svgEl('path', {d: this.band(d.phase_lo, d.phase_hi), fill: '#95a5a6', 'fill-opacity': 0.4, stroke: 'none'}, g); }
    if (d.pseudo.length) { svgEl('path', {d: this.path(d.pseudo), fill: 'none', stroke: '#e67e22', 'stroke-width': 1}, g); }
    svgEl('path', {d: this.path(d.v), fill: 'none', stroke: '#1f4e79', 'stroke-width': 1.4, 'class': 'tc-value'}, g);
    /* lanes */
    d.reporters.forEach(function (rep, k) {
      var y = TOP + MAIN + k * LANE + 4;
      svgEl('text', {x: LEFT - 6, y: y + LANE / 2 + 2, 'text-anchor': 'end', 'font-size': 11, fill: '#333'}, svg).textContent = rep;
      svgEl('rect', {x: LEFT, y: y, width: W - LEFT - RIGHT, height: LANE - 6, fill: '#f6f6f6'}, g);
      d.reports.forEach(function (r, i) {
        if (r.reporter !== rep) { return; }
        var a = self.x(r.onset), b = self.x(r.onset + r.duration);
        var rect = svgEl('rect', {x: a, y: y, width: Math.max(b - a, 3), height: LANE - 6, fill: r.colour,
          'class': 'lane-report', 'data-i': i}, g);
        rect.addEventListener('click', function () { self.jump(r.onset, r.duration); });
      });
    });
    /* time axis */
    var axisY = TOP + MAIN + LANE * d.reporters.length + 6;
    svgEl('line', {x1: LEFT, x2: W - RIGHT, y1: axisY, y2: axisY, stroke: '#888'}, svg);
    var span = this.view[1] - this.view[0], step = niceStep(span, 8);
    for (var tv = Math.ceil(this.view[0] / step) * step; tv <= this.view[1]; tv += step) {
      var xv = this.x(tv);
      svgEl('line', {x1: xv, x2: xv, y1: axisY, y2: axisY + 4, stroke: '#888'}, svg);
      svgEl('text', {x: xv, y: axisY + 16, 'text-anchor': 'middle', 'font-size': 11, fill: '#555'}, svg).textContent = fmt(tv);
    }
    svgEl('text', {x: W - RIGHT, y: axisY + 30, 'text-anchor': 'end', 'font-size': 11, fill: '#333'}, svg).textContent = 'EEG time (s)';
    if (this.focus !== null) {
      svgEl('line', {x1: this.x(this.focus), x2: this.x(this.focus), y1: TOP, y2: axisY, stroke: '#b03a2e',
        'stroke-width': 2, 'class': 'tc-focus'}, g);
    }
    this.cursorLine = svgEl('line', {x1: 0, x2: 0, y1: TOP, y2: axisY, stroke: '#333', 'stroke-dasharray': '3,3',
      visibility: 'hidden'}, g);
    this.range.textContent = 'showing ' + fmt(this.view[0]) + '–' + fmt(this.view[1]) + ' s of ' +
      fmt(this.tmin) + '–' + fmt(this.tmax) + ' s';
  };
  TimeCourse.prototype.cursor = function (t) {
    if (!this.cursorLine) { return; }
    if (t === null) { this.cursorLine.setAttribute('visibility', 'hidden'); return; }
    var x = this.x(t);
    this.cursorLine.setAttribute('x1', x); this.cursorLine.setAttribute('x2', x);
    this.cursorLine.setAttribute('visibility', 'visible');
  };
  TimeCourse.prototype.hover = function (e) {
    var t = this.timeAt(e.clientX), d = this.d;
    if (t < this.view[0] || t > this.view[1]) { this.tip.hidden = true; this.cursor(null); return; }
    this.cursor(t);
    var best = -1, dist = Infinity;
    for (var i = 0; i < d.t.length; i++) {
      var dd = Math.abs(d.t[i] - t);
      if (dd < dist) { dist = dd; best = i; }
    }
    var tip = this.tip;
    while (tip.firstChild) { tip.removeChild(tip.firstChild); }
    var head = document.createElement('div');
    var v = best >= 0 ? d.v[best] : null;
    head.textContent = fmt(t) + ' s — ' + (d.label || (d.band + ' ' + d.metric)) + ': ' + (v === null ? 'excluded' : v.toFixed(3));
    tip.appendChild(head);
    d.reports.forEach(function (r) {
      if (r.onset <= t && t <= r.onset + Math.max(r.duration, 1)) {
        var p = document.createElement('div');
        p.textContent = r.reporter + ' — ' + r.category + (r.text ? ': “' + r.text + '”' : '');
        tip.appendChild(p);
      }
    });
    tip.hidden = false;
    tip.style.left = Math.min(e.clientX + 14, window.innerWidth - 380) + 'px';
    tip.style.top = (e.clientY + 14) + 'px';
  };

  var courses = {};
  document.querySelectorAll('.timecourse').forEach(function (box) {
    courses[box.getAttribute('data-session')] = new TimeCourse(box);
  });
  document.addEventListener('click', function (e) {
    var b = e.target.closest ? e.target.closest('button.excerpt') : null;
    if (!b) { return; }
    var tc = courses[b.getAttribute('data-session')];
    if (!tc) { return; }
    tc.jump(parseFloat(b.getAttribute('data-onset')), parseFloat(b.getAttribute('data-duration')));
    tc.box.scrollIntoView({block: 'center'});
  });
  window.hyperscanTimeCourses = courses;
}());
