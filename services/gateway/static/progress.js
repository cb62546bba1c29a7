// Live progress of the release's emails: reload the #progression region every
// few seconds while emails wait. Without JavaScript, "Actualiser" does the same.
(function () {
  var region = document.getElementById("progression");
  if (!region || !window.fetch || !window.DOMParser) return;
  function refresh() {
    fetch(window.location.pathname, { credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("progression");
        if (fresh && fresh.innerHTML !== region.innerHTML) region.innerHTML = fresh.innerHTML;
        if (fresh && fresh.dataset.waiting !== "0") window.setTimeout(refresh, 3000);
      })
      .catch(function () { window.setTimeout(refresh, 10000); });
  }
  if (region.dataset.waiting !== "0") window.setTimeout(refresh, 3000);
})();
