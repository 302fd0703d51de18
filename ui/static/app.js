// jurismon live overview: refreshes the page from the agent's JSON APIs.
// Plain JavaScript, no framework; text goes in with textContent only.
"use strict";

const REFRESH_MS = 5000;
const ROWS = 10;

// formatBytes matches the Go side (worldmap.FormatBytes): SI units.
function formatBytes(v) {
  if (v < 1000) return v + " B";
  const units = "kMGTPE";
  let i = -1;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return v.toFixed(v >= 10 ? 0 : 1) + " " + units[i] + "B";
}

function formatTime(s) {
  if (!s) return "–";
  const d = new Date(s);
  return isNaN(d) ? "–" : d.toLocaleString();
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : String(c));
  return e;
}

function flagMark(name) {
  const s = el("span", {}, el("span", { class: "mark", "aria-hidden": "true" }, "⚑ "), name);
  return s;
}

function country(names, cc) {
  if (!cc) return "–";
  return names[cc] ? names[cc] + " (" + cc + ")" : cc;
}

function bytesCell(v) {
  return el("td", { class: "n", "data-bytes": v }, formatBytes(v));
}

function fill(section, rows) {
  const tbody = document.querySelector("#" + section + " tbody");
  tbody.replaceChildren(...rows);
  const empty = document.querySelector("#" + section + " .empty");
  if (empty) empty.hidden = rows.length > 0;
}

function showOverview(o) {
  for (const [name, d] of Object.entries(o.directions)) {
    const dd = document.querySelector('[data-direction="' + name + '"] dd');
    if (dd) { dd.textContent = formatBytes(d.bytes); dd.dataset.bytes = d.bytes; }
  }
  const ft = document.querySelector("#flagged-total");
  ft.querySelector("dd").textContent = formatBytes(o.flagged_bytes);
  ft.querySelector("dd").dataset.bytes = o.flagged_bytes;
  ft.classList.toggle("seen", o.flagged_bytes > 0);

  const names = o.country_names || {};
  fill("jurisdictions", o.jurisdictions.map(j => el("tr", { class: j.flows || j.bytes_to || j.bytes_from ? "flagged" : "", "data-jurisdiction": j.key },
    el("th", { scope: "row" }, flagMark(j.key)), bytesCell(j.bytes_to), bytesCell(j.bytes_from), el("td", {}, formatTime(j.last_seen)))));
  document.querySelector("#jurisdictions .empty").hidden = o.jurisdictions.length > 0;

  let total = 0;
  for (const c of o.countries) total += c.bytes_to + c.bytes_from;
  fill("countries", o.countries.slice(0, ROWS).map(c => {
    const b = c.bytes_to + c.bytes_from;
    return el("tr", { class: c.jurisdiction ? "flagged" : "", "data-country": c.key, "data-bytes": b },
      el("th", { scope: "row" }, c.jurisdiction ? flagMark(country(names, c.key)) : country(names, c.key)),
      bytesCell(c.bytes_to), bytesCell(c.bytes_from), el("td", { class: "n" }, total ? (100 * b / total).toFixed(1) + " %" : "–"));
  }));

  fill("asns", o.asns.slice(0, ROWS).map(a => el("tr", { class: a.jurisdiction ? "flagged" : "", "data-asn": a.asn },
    el("th", { scope: "row" }, a.jurisdiction ? flagMark(a.key) : a.key, a.as_org ? el("br") : "", a.as_org || ""),
    el("td", {}, country(names, a.country)), bytesCell(a.bytes_to), bytesCell(a.bytes_from))));
}

const SVG = "http://www.w3.org/2000/svg";

function svgEl(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

// showLegend draws the key as the page template does.
function showLegend(items) {
  document.querySelector("#legend").replaceChildren(...items.map(it => {
    const sw = svgEl("svg", { class: "swatch", viewBox: "0 0 16 12", "aria-hidden": "true" });
    if (it.marker) {
      sw.append(svgEl("circle", { cx: 8, cy: 6, r: 3, fill: it.fill, stroke: "#777777", "stroke-width": 0.5 }));
    } else {
      sw.append(svgEl("rect", { width: 16, height: 12, fill: it.fill, stroke: "#999999", "stroke-width": 0.5 }));
      if (it.hatched) sw.append(svgEl("rect", { width: 16, height: 12, fill: "url(#live-hatch)", stroke: "#222222", "stroke-width": 1.3 }));
    }
    return el("li", {}, sw, " " + it.label);
  }));
}

function showFlows(body) {
  fill("flows", body.events.slice(0, 20).map(e => el("tr", { class: "flagged" },
    el("td", {}, formatTime(e.last_seen)),
    el("td", { class: "addr" }, e.remote + (e.remote_port ? " " + e.protocol + "/" + e.remote_port : " " + e.protocol)),
    el("td", {}, e.country || "–"), el("td", {}, (e.asn ? "AS" + e.asn + " " : "") + (e.as_org || "")),
    el("td", {}, flagMark(e.jurisdiction)), bytesCell(e.bytes_to), bytesCell(e.bytes_from))));
}

function showPaths(body) {
  document.querySelector("#paths .list").replaceChildren(...body.paths.map(p => {
    const hops = el("ol", { class: "hops" }, ...p.hops.map(h => {
      const loc = h.location ? [h.location.country, h.location.asn ? "AS" + h.location.asn : "", h.location.as_org].filter(Boolean).join(" ") : "";
      const text = [h.answered ? h.addr : "no answer", loc, h.rtt_ns ? (h.rtt_ns / 1e6).toFixed(1) + " ms" : ""].filter(Boolean).join(" · ");
      return el("li", { value: h.ttl, class: h.flagged ? "flagged" : "" }, h.flagged ? flagMark(text + " (" + (h.jurisdiction || "flagged") + ")") : text);
    }));
    return el("div", { class: "path" }, el("h3", {}, (p.target.name || p.target.host) + " → " + p.dst + (p.reached ? "" : " (not reached)")), hops);
  }));
}

async function getJSON(url) {
  const r = await fetch(url, { cache: "no-store", credentials: "same-origin" });
  if (!r.ok) throw new Error(url + ": " + r.status);
  return r.json();
}

async function refreshMap() {
  const r = await fetch("/ui/map.svg", { cache: "no-store", credentials: "same-origin" });
  if (!r.ok) throw new Error("map: " + r.status);
  const doc = new DOMParser().parseFromString(await r.text(), "image/svg+xml");
  const svg = doc.documentElement;
  if (svg.nodeName !== "svg") throw new Error("map: not SVG");
  document.querySelector("#map-frame").replaceChildren(document.importNode(svg, true));
}

async function refresh() {
  const status = document.querySelector("#status");
  try {
    const o = await getJSON("/api/v1/overview");
    // Only the APIs the agent serves: a 404 would be a console error.
    const [flows, paths] = await Promise.all([
      o.flagged_flows_api ? getJSON("/api/v1/flagged-flows?limit=20") : null,
      o.paths_api ? getJSON("/api/v1/paths") : null,
    ]);
    showOverview(o);
    showLegend(o.legend);
    document.querySelector("#flows").hidden = !flows;
    if (flows) showFlows(flows);
    document.querySelector("#paths").hidden = !paths || paths.paths.length === 0;
    if (paths) showPaths(paths);
    await refreshMap();
    status.textContent = "Updated " + new Date(o.time).toLocaleTimeString() + "; refreshes every " + REFRESH_MS / 1000 + " s.";
    status.classList.remove("stale");
    document.body.dataset.updated = o.time;
  } catch (err) {
    status.textContent = "Not updated: " + err.message;
    status.classList.add("stale");
  }
}

refresh();
setInterval(refresh, REFRESH_MS);
