// Previous / next through the score's pages (core/render/engrave.py); one page shows at a time.
(function () {
  "use strict";
  const pages = Array.from(document.querySelectorAll(".cs-page"));
  const prev = document.querySelector(".cs-prev"), next = document.querySelector(".cs-next");
  const count = document.querySelector(".cs-count");
  let at = 0;
  function go(i) {
    at = Math.max(0, Math.min(pages.length - 1, i));
    pages.forEach((p, k) => { p.hidden = k !== at; });
    count.textContent = `Page ${at + 1} of ${pages.length}`;
    prev.disabled = at === 0; next.disabled = at === pages.length - 1;
    window.scrollTo(0, 0);
  }
  prev.addEventListener("click", () => go(at - 1));
  next.addEventListener("click", () => go(at + 1));
  document.addEventListener("keydown", e => {
    if (e.key === "ArrowRight" || e.key === "PageDown") go(at + 1);
    if (e.key === "ArrowLeft" || e.key === "PageUp") go(at - 1);
  });
  go(0);
})();
