// A display equation wider than its column scrolls inside its own box (readable.css).
// Mark which of its edges hide more of it (classes more-left / more-right), so that the
// stylesheet fades those edges: a visible cue that the equation goes on. Updated when
// the reader scrolls the equation or resizes the window.
(() => {
  "use strict";
  const SELECTOR = 'div.math mjx-container[display="true"]';

  function mark(box) {
    const hidden = box.scrollWidth - box.clientWidth;
    box.classList.toggle("more-left", hidden > 1 && box.scrollLeft > 1);
    box.classList.toggle("more-right", hidden > 1 && box.scrollLeft < hidden - 1);
  }

  function markAll() {
    for (const box of document.querySelectorAll(SELECTOR)) {
      mark(box);
      if (!box.dataset.scrollCue) {
        box.dataset.scrollCue = "1";
        box.addEventListener("scroll", () => mark(box), { passive: true });
      }
    }
  }

  window.addEventListener("load", () => {
    const startup = window.MathJax && window.MathJax.startup;
    (startup && startup.promise ? startup.promise : Promise.resolve()).then(markAll);
  });
  window.addEventListener("resize", markAll);
})();
