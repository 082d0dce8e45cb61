// Keeps the dashboard's "Recent reports" table current by polling the JSON API
// (GET /api/reports/): every second while a report is Pending or Running, every 10 s otherwise.
(function () {
  "use strict";
  var table = document.getElementById("reports-table");
  if (!table || !window.fetch) return;
  var body = table.tBodies[0];
  var api = table.dataset.api;
  var limit = parseInt(table.dataset.limit, 10) || 10;
  var BUSY_MS = 1000, IDLE_MS = 10000, ERROR_MS = 5000;

  function cell(row, className) {
    var td = document.createElement("td");
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }

  function utcText(iso) {
    // "2023-01-25T18:13:22.479220Z" -> "2023-01-25 18:13:22" (the server's format)
    return iso ? iso.replace("T", " ").replace(/(\.\d+)?(Z|[+-]00:00)$/, "") : "newest poll";
  }

  function rowFor(report) {
    var row = document.createElement("tr");
    row.dataset.reportId = report.report_id;
    row.dataset.status = report.status;
    var code = document.createElement("code");
    code.title = report.report_id;
    code.textContent = report.report_id.length > 9 ? report.report_id.slice(0, 8) + "…" : report.report_id;
    cell(row, "report-id").appendChild(code);
    var status = document.createElement("span");
    status.className = "status status-" + report.status.toLowerCase();
    status.textContent = report.status;
    if (report.error) status.title = report.error;
    cell(row).appendChild(status);
    var progressCell = cell(row, "progress-cell");
    var bar = document.createElement("progress");
    bar.max = 1;
    bar.value = report.progress;
    var pct = document.createElement("span");
    pct.className = "pct";
    pct.textContent = Math.round(report.progress * 100) + "%";
    progressCell.appendChild(bar);
    progressCell.appendChild(document.createTextNode(" "));
    progressCell.appendChild(pct);
    cell(row, "wide-only").textContent = utcText(report.as_of);
    cell(row, "wide-only").textContent = report.method;
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

  poll();
})();
