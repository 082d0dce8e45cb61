// The tokens page: a Copy button beside a new token (the page works without this file: the
// token is shown whole, and one click selects it).
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

  document.querySelectorAll("button.copy-id").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      copyText(button.dataset.copy).then(
        function () { flash(button, "Copied"); },
        function () { flash(button, "Select and copy"); }
      );
    });
  });

  function flash(button, text) {
    button.textContent = text;
    window.setTimeout(function () { button.textContent = "Copy"; }, COPIED_MS);
  }
})();
