// The dashboard's "Recent reports" table: kept current by polling the JSON API (GET /api/reports/)
// every second while a report is Pending or Running, every 10 s otherwise; a Copy button beside
// each report id (copy.js, loaded before this file, copies). Rows are built as templates/includes/report_row.html builds them; the
// page works without this file (whole ids, JSON and CSV links, no copy button).
(function () {
  "use strict";
  var table = document.getElementById("reports-table");
  if (!table) return;
  var body = table.tBodies[0];
  var api = table.dataset.api;
  var limit = parseInt(table.dataset.limit, 10) || 10;
  var newReport = table.dataset.newReport || "";
  var BUSY_MS = 1000, IDLE_MS = 10000, ERROR_MS = 5000;

  // --- Rows from the API --------------------------------------------------------------------

  function cell(row, className) {
    var td = document.createElement("td");
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }

  function span(className, text) {
    var element = document.createElement("span");
    element.className = className;
    element.textContent = text;
    return element;
  }

  function utcText(iso) {
    // "2023-01-25T18:13:22.479220Z" -> "2023-01-25 18:13:22" (the server's format)
    return iso ? iso.replace("T", " ").replace(/(\.\d+)?(Z|[+-]00:00)$/, "") : "newest poll";
  }

  function idCell(row, report) {
    var td = cell(row, "report-id");
    var code = document.createElement("code");
    code.className = "id";
    code.textContent = report.report_id;
    td.append(code, " ");
    var actions = span("id-actions", "");
    var copy = document.createElement("button");
    copy.type = "button";
    copy.className = "copy-id";
    copy.dataset.copy = report.report_id;
    copy.setAttribute("aria-label", "Copy report id " + report.report_id);
    copy.textContent = "Copy";
    var json = document.createElement("a");
    json.href = report.url;
    json.title = "The report as JSON (GET /api/reports/" + report.report_id + "/)";
    json.textContent = "JSON";
    actions.append(copy, " ", json);
    td.appendChild(actions);
  }

  function note(text, title) {
    var element = span("status-note", text);
    if (title) element.title = title;
    return element;
  }

  // As templates/includes/report_status.html: a finished report that is not a good one says why.
  function statusCell(row, report) {
    var td = cell(row, "status-cell");
    var empty = report.status === "Complete" && report.store_count === 0;
    if (report.status === "Failed") {
      td.append(span("status status-failed", "Failed"), " ",
        note(report.error || "It stopped without saying why.", report.error));
    } else if (empty) {
      td.append(span("status status-empty", "Complete"), " ", span("status-note", "0 stores — nothing to report"));
    } else {
      td.appendChild(span("status status-" + report.status.toLowerCase(), report.status));
    }
  }

  function rowFor(report) {
    var row = document.createElement("tr");
    row.id = "report-" + report.report_id;
    row.dataset.reportId = report.report_id;
    row.dataset.status = report.status;
    if (report.report_id === newReport) row.className = "new-report";
    idCell(row, report);
    statusCell(row, report);
    var progressCell = cell(row, "progress-cell");
    var bar = document.createElement("progress");
    bar.max = 1;
    bar.value = report.progress;
    progressCell.append(bar, " ", span("pct", Math.round(report.progress * 100) + "%"));
    cell(row, "wide-only").textContent = utcText(report.as_of);
    cell(row, "wide-only").textContent = report.method + (report.columns && report.columns !== "basic" ? ", " + report.columns : "");
    cell(row, "wide-only").textContent = report.store_count === null ? "" : String(report.store_count);
    cell(row, "wide-only").textContent =
      report.duration_seconds === null ? "" : report.duration_seconds.toFixed(1) + " s";
    var download = cell(row);
    if (report.status === "Complete" && report.download_url) {
      var link = document.createElement("a");
      link.className = "download";
      link.href = report.download_url;
      link.setAttribute("download", "");
      link.textContent = "CSV";
      download.appendChild(link);
      if (report.outages_url) {
        var outages = document.createElement("a");
        outages.className = "outages-download";
        outages.href = report.outages_url;
        outages.setAttribute("download", "");
        outages.title = "Every store's outages";
        outages.textContent = "outages";
        download.append(" ", outages);
      }
    }
    return row;
  }

  function render(reports) {
    if (!reports.length) return;
    var fragment = document.createDocumentFragment();
    reports.slice(0, limit).forEach(function (report) { fragment.appendChild(rowFor(report)); });
    body.replaceChildren(fragment);
  }

  function busy(reports) {
    return reports.some(function (r) { return r.status === "Pending" || r.status === "Running"; });
  }

  function poll() {
    fetch(api, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (page) {
        var reports = page.results || page;
        render(reports);
        table.dataset.updated = String(Date.now());
        window.setTimeout(poll, busy(reports) ? BUSY_MS : IDLE_MS);
      })
      .catch(function () { window.setTimeout(poll, ERROR_MS); });
  }

  // The Copy buttons of the rows already on the page (copy.js handles their clicks).
  table.querySelectorAll("button.copy-id").forEach(function (button) { button.hidden = false; });
  if (window.fetch) poll();
})();
