// Gatehouse console: the copy button of a secret shown once. Everything
// else works without script.
document.addEventListener("click", function (ev) {
  var b = ev.target.closest("button[data-copy]");
  if (!b) return;
  var field = document.getElementById(b.getAttribute("data-copy"));
  var status = document.getElementById(b.getAttribute("data-copy") + "-status");
  navigator.clipboard.writeText(field.value).then(function () {
    status.textContent = "Copied to the clipboard.";
  }, function () {
    field.select();
    status.textContent = "Select the secret and copy it (Ctrl+C).";
  });
});
