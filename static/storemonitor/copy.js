// Copy buttons: a <button class="copy-id" data-copy="…" hidden> anywhere on a page that loads this
// file copies its data-copy (report ids on the dashboard, a new API token). The buttons start
// hidden and show once this file runs: without it the pages still show the text whole.
(function () {
  "use strict";
  var COPIED_MS = 1500;

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    // Plain http on another host has no clipboard API: copy a selection instead.
    return new Promise(function (resolve, reject) {
      var scratch = document.createElement("textarea");
      scratch.value = text;
      scratch.setAttribute("readonly", "");
      scratch.style.position = "fixed";
      scratch.style.opacity = "0";
      document.body.appendChild(scratch);
      scratch.select();
      var copied = false;
      try { copied = document.execCommand("copy"); } catch (error) { copied = false; }
      scratch.remove();
      if (copied) resolve(); else reject(new Error("copy refused"));
    });
  }

  function flash(button, text) {
    button.textContent = text;
    window.setTimeout(function () { button.textContent = "Copy"; }, COPIED_MS);
  }

  // One listener for the whole page: rows added later (reports.js) need none of their own.
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button.copy-id") : null;
    if (!button) return;
    copyText(button.dataset.copy).then(
      function () { flash(button, "Copied"); },
      function () { flash(button, "Select and copy"); }
    );
  });

  document.querySelectorAll("button.copy-id").forEach(function (button) { button.hidden = false; });
})();
