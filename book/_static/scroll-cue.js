// A display equation wider than its column scrolls inside its own box, and so does a
// long inline formula (readable.css). Mark which edges hide more of it (classes
// more-left / more-right), so that the stylesheet fades those edges: a visible cue that
// the formula goes on. Updated when the reader scrolls it or resizes the window.
(() => {
  "use strict";
  const SELECTOR = 'div.math mjx-container[display="true"], span.math';

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
    (startup && startup.promise ? startup.promise : Promise.resolve())
      .then(() => document.fonts.ready)
      .then(markAll);
  });
  window.addEventListener("resize", markAll);
  // A web font that arrives later changes the width of what it sets.
  document.fonts.addEventListener("loadingdone", markAll);
})();
