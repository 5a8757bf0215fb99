// Accessibility fixes over the theme's defaults, found by axe-core (tests/browser).

// Material's search dialog carries role="dialog" but no accessible name (axe: aria-dialog-name).
document.querySelector(".md-search[role='dialog']")?.setAttribute("aria-label", "Search");

// Display formulas scroll sideways when wider than the page (dlref.css): like Material's code blocks,
// they must then be reachable by keyboard (axe: scrollable-region-focusable). Runs after KaTeX renders.
document$.subscribe(({ body }) => {
  for (const formula of body.querySelectorAll("div.arithmatex")) {
    formula.setAttribute("tabindex", "0");
  }
});
