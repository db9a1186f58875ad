package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/assert"
)

// Every page a reader meets, checked the way a phone and a screen reader meet it.

// A common phone is 375 CSS pixels wide (iPhone SE, iPhone 13 mini); the narrowest still in use
// are 320 (the first iPhone SE, small Android phones).
const (
	phoneWidth  = 375
	phoneHeight = 812
	narrowWidth = 320
	// WCAG 1.4.11: what shows a control (its border, its focus indicator) needs 3:1 against
	// what surrounds it.
	minControlContrast = 3.0
)

// TestEveryPageFitsAPhoneAndIsAccessible: every page of both applications, and FusionAuth's
// pages on the way, fits a phone's window and passes the accessibility checks.
func TestEveryPageFitsAPhoneAndIsAccessible(t *testing.T) {
	t.Parallel() // its own browser window; it changes nothing FusionAuth or the apps share
	stub := newPhone(t)
	stub.openHome(suite.stubURL)
	stub.checkPage(t, "stub home", ownPage)
	stub.do("open the stub's Log in page", chromedp.Navigate(suite.stubURL+"/login"), chromedp.WaitVisible(chromedp.ID("error")))
	stub.checkPage(t, "stub log in, not connected yet", ownPage)
	stub.do("open the stub's make-change page", chromedp.Navigate(suite.stubURL+"/make-change"),
		chromedp.WaitVisible(chromedp.ID("make-change-form")))
	stub.checkPage(t, "stub make change", ownPage)
	stub.makeChange("1000000") // the longest result
	stub.checkPage(t, "stub make change with a result", ownPage)
	stub.makeChange("two dollars")
	stub.checkPage(t, "stub make change with an error", ownPage)
	stub.do("open a page the stub does not have", chromedp.Navigate(suite.stubURL+"/no-such-page"), chromedp.WaitVisible(chromedp.ID("error")))
	stub.checkPage(t, "stub not found", ownPage)

	// FusionAuth's pages are its own: on a real FusionAuth only the phone and axe-core checks
	// apply, as its theme has its own focus style. The stand-in's pages are held to all of them.
	fusionAuthPage := ownPage
	if !standinIsTarget() {
		fusionAuthPage = othersPage
	}
	b := newPhone(t)
	b.openHome(suite.appURL)
	b.checkPage(t, "home", ownPage)
	b.clickLogin()
	b.checkPage(t, "FusionAuth's login form", fusionAuthPage)
	b.signIn(richard, "not-the-password")
	b.seeInvalidCredentials()
	b.checkPage(t, "FusionAuth's login form after a wrong password", fusionAuthPage)

	b.logIn(richard)
	b.checkPage(t, "account", ownPage)
	b.do("follow Make change", chromedp.Click(chromedp.ID("make-change-link"), chromedp.NodeVisible),
		chromedp.WaitVisible(chromedp.ID("make-change-form")))
	b.checkPage(t, "make change", ownPage)
	b.makeChange("1000000")
	b.checkPage(t, "make change with a result", ownPage)
	t.Run("make change with a result: no error is announced", func(t *testing.T) { b.on(t).seeNoErrorAnnounced() })
	b.makeChange("two dollars")
	b.checkPage(t, "make change with an error", ownPage)
	t.Run("make change with an error: the error is announced", func(t *testing.T) { b.on(t).seeErrorAnnounced() })
	b.do("open a page the application does not have", chromedp.Navigate(suite.appURL+"/no-such-page"), chromedp.WaitVisible(chromedp.ID("error")))
	b.checkPage(t, "not found", ownPage)

	unregistered := newPhone(t)
	unregistered.openHome(suite.appURL)
	unregistered.clickLogin()
	unregistered.signIn(admin, password) // registered to FusionAuth's admin application only
	unregistered.seeNotRegistered()
	unregistered.checkPage(t, "FusionAuth's page for a user not registered to Changebank", fusionAuthPage)
}

// newPhone opens a browser window the size of a phone, laid out as a phone lays out a page
// (the page's viewport meta tag applies).
func newPhone(t *testing.T) *browser {
	t.Helper()
	b := newBrowser(t)
	b.do("size the window as a phone", chromedp.EmulateViewport(phoneWidth, phoneHeight, chromedp.EmulateMobile))
	return b
}

// pageKind says which checks a page gets: an application page (or the stand-in's) gets all of
// them; a real FusionAuth's page is not this project's to style, so it gets only those of a
// phone's width and axe-core, not this project's own checks of borders and focus rings.
type pageKind int

const (
	ownPage pageKind = iota
	othersPage
)

// checkPage checks the page the browser shows, as a subtest of t named for the page, so that
// one page's failure leaves the others' results and its own screenshot.
func (b *browser) checkPage(t *testing.T, name string, kind pageKind) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		p := b.on(t)
		p.seeNoSidewaysOverflow(phoneWidth)
		p.seeNoSidewaysOverflow(narrowWidth)
		p.seeNoAxeViolations()
		if kind == ownPage {
			p.seeFieldBorders()
			p.seeOwnFocusRing()
		}
	})
}

// pageScripts are helpers the checks below share inside the page.
const pageScripts = `
// describe names an element by its path from the body, for messages.
const describe = el => {
  const parts = [];
  for (let n = el; n && n !== document.body && n.nodeType === 1; n = n.parentElement) {
    if (n.id) { parts.unshift("#" + n.id); break; }
    let i = 1;
    for (let s = n.previousElementSibling; s; s = s.previousElementSibling) if (s.tagName === n.tagName) i++;
    parts.unshift(n.tagName.toLowerCase() + ":nth-of-type(" + i + ")");
  }
  return parts.join(" > ") || el.tagName.toLowerCase();
};
// rgba parses a computed colour, null when it is not rgb() or rgba().
const rgba = c => {
  const m = c.match(/^rgba?\(([^)]*)\)$/);
  if (!m) return null;
  const [r, g, b, a = 1] = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
  return {r, g, b, a};
};
// contrast is WCAG's contrast ratio of two colours, rounded to two decimals.
const contrast = (x, y) => {
  const luminance = c => {
    const f = v => (v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  const [hi, lo] = [luminance(x), luminance(y)].sort((p, q) => q - p);
  return Math.round((hi + 0.05) / (lo + 0.05) * 100) / 100;
};
// backgroundAround is the colour an element's parents paint behind it: what its outline and
// border are seen against.
const backgroundAround = el => {
  for (let n = el.parentElement; n; n = n.parentElement) {
    const c = rgba(getComputedStyle(n).backgroundColor);
    if (c && c.a > 0) return c;
  }
  return {r: 255, g: 255, b: 255, a: 1};
};
`

// sidewaysOverflow is what the page looks like across: its layout width, how far it scrolls
// sideways, and the elements that reach out of the window.
type sidewaysOverflow struct {
	LayoutWidth int      `json:"layoutWidth"`
	ScrollWidth int      `json:"scrollWidth"`
	Outside     []string `json:"outside"`
}

// seeNoSidewaysOverflow checks, at a window width in CSS pixels, that the page lays out at that
// width, does not scroll sideways, and has no element reaching out of the window.
func (b *browser) seeNoSidewaysOverflow(width int64) {
	b.t.Helper()
	b.do(fmt.Sprintf("make the window %d px wide", width), chromedp.EmulateViewport(width, phoneHeight, chromedp.EmulateMobile))
	defer b.do("make the window a phone's width again", chromedp.EmulateViewport(phoneWidth, phoneHeight, chromedp.EmulateMobile))
	got := read(b, "the page's width", chromedp.Evaluate[sidewaysOverflow](`(() => {`+pageScripts+`
  const width = document.documentElement.clientWidth;
  const outside = [];
  for (const el of document.body.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    if (r.left < -0.5 || r.right > width + 0.5) {
      outside.push(describe(el) + " spans " + Math.round(r.left) + " to " + Math.round(r.right) + " px");
    }
  }
  return {layoutWidth: width, scrollWidth: document.documentElement.scrollWidth, outside};
})()`))
	assert.Equal(b.t, int(width), got.LayoutWidth, "at %d px the page lays out at the window's width (a viewport meta tag)", width)
	assert.LessOrEqual(b.t, got.ScrollWidth, int(width), "at %d px the page scrolls sideways", width)
	assert.Empty(b.t, got.Outside, "at %d px these elements reach out of the window", width)
}

// axeResult is what axe-core found, cut down to what a failure message needs.
type axeResult struct {
	Violations []struct {
		ID     string   `json:"id"`
		Impact string   `json:"impact"`
		Help   string   `json:"help"`
		Nodes  []string `json:"nodes"`
	} `json:"violations"`
	Incomplete []string `json:"incomplete"`
}

// seeNoAxeViolations runs axe-core's default rules (WCAG 2.x A and AA and its best practices)
// on the page and fails on any violation. The page's Content-Security-Policy forbids scripts,
// but DevTools' Runtime.evaluate is not bound by it, so axe-core runs on the page as served.
func (b *browser) seeNoAxeViolations() {
	b.t.Helper()
	script, err := axeScript()
	if err != nil {
		b.t.Fatalf("load axe-core: %v", err)
	}
	loaded := read(b, "whether axe-core is on the page", chromedp.Evaluate[bool](`typeof window.axe === "object"`))
	if !loaded {
		b.do("load axe-core into the page", chromedp.Evaluate[chromedp.Void](script+"\n;undefined"))
	}
	got := read(b, "axe-core's findings", chromedp.Evaluate[axeResult](`axe.run(document, {resultTypes: ["violations"]}).then(r => ({
  violations: r.violations.map(v => ({
    id: v.id, impact: v.impact || "", help: v.help,
    nodes: v.nodes.map(n => n.target.join(" ") + ": " + n.failureSummary.replace(/\s+/g, " ")),
  })),
  incomplete: r.incomplete.map(v => v.id),
}))`, chromedp.EvalAwaitPromise))
	for _, v := range got.Violations {
		b.t.Errorf("axe-core %s: %s (%s, %s):\n\t%s", axeVersion, v.Help, v.ID, v.Impact, strings.Join(v.Nodes, "\n\t"))
	}
	if len(got.Incomplete) > 0 {
		// axe-core could not decide these (a contrast over a gradient, say): worth a look by eye.
		b.t.Logf("axe-core %s could not decide: %s", axeVersion, strings.Join(got.Incomplete, ", "))
	}
}

// focusRing is the focus indicator of the element the keyboard focused.
type focusRing struct {
	Element string  `json:"element"`
	Style   string  `json:"style"`
	Width   float64 `json:"width"`
	Ratio   float64 `json:"ratio"` // the ring's contrast against the background around the element
}

// seeOwnFocusRing tabs through the page, as a keyboard user does, and checks that every element
// the focus reaches shows the page's own outline: not the browser's default ("auto") and not
// none, at least 2 px wide, and at 3:1 or more against the background around it.
func (b *browser) seeOwnFocusRing() {
	b.t.Helper()
	focusable := read(b, "how many elements the keyboard can reach", chromedp.Evaluate[int](`[...document.querySelectorAll(
  "a[href], button, input:not([type=hidden]), select, textarea, [tabindex]:not([tabindex='-1'])"
)].filter(el => !el.disabled && el.getClientRects().length > 0).length`))
	if focusable == 0 {
		b.t.Log("the page has nothing the keyboard can focus, so no focus ring to check")
		return
	}
	seen := map[string]bool{}
	for range 40 {
		b.do("press Tab", chromedp.KeyEvent(kb.Tab))
		ring := read(b, "the focused element's outline", chromedp.Evaluate[*focusRing](`(() => {`+pageScripts+`
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return null;
  const s = getComputedStyle(el);
  const ring = rgba(s.outlineColor);
  return {
    element: describe(el), style: s.outlineStyle, width: parseFloat(s.outlineWidth) || 0,
    ratio: ring ? contrast(ring, backgroundAround(el)) : 0,
  };
})()`))
		if ring == nil {
			continue // the focus left the page (to the browser's own controls); Tab brings it back
		}
		if seen[ring.Element] {
			break // round the page once
		}
		seen[ring.Element] = true
		assert.NotContains(b.t, []string{"none", "auto", "hidden"}, ring.Style,
			"%s: the focus shows the page's own outline, not the browser's default or none (outline-style %s)", ring.Element, ring.Style)
		assert.GreaterOrEqual(b.t, ring.Width, 2.0, "%s: the focus outline's width", ring.Element)
		assert.GreaterOrEqual(b.t, ring.Ratio, minControlContrast, "%s: the focus outline's contrast against the background around it", ring.Element)
	}
	assert.NotEmpty(b.t, seen, "Tab reached none of the page's %d focusable elements", focusable)
}

// fieldBorder is how a form field's edge stands out from what is around it.
type fieldBorder struct {
	Element string  `json:"element"`
	Width   float64 `json:"width"`
	Ratio   float64 `json:"ratio"`
}

// seeFieldBorders checks that every text field's border stands out at 3:1 or more against the
// background around it (WCAG 1.4.11, which axe-core does not check), so the field can be found.
func (b *browser) seeFieldBorders() {
	b.t.Helper()
	fields := read(b, "the form fields' borders", chromedp.Evaluate[[]fieldBorder](`(() => {`+pageScripts+`
  const fields = [...document.querySelectorAll("input:not([type=hidden]):not([type=checkbox]):not([type=radio]), select, textarea")];
  return fields.filter(el => el.getClientRects().length > 0).map(el => {
    const s = getComputedStyle(el);
    const edge = rgba(s.borderBottomColor);
    return {
      element: describe(el), width: parseFloat(s.borderBottomWidth) || 0,
      ratio: edge ? contrast(edge, backgroundAround(el)) : 0,
    };
  });
})()`))
	for _, f := range fields {
		assert.GreaterOrEqual(b.t, f.Width, 1.0, "%s has a border", f.Element)
		assert.GreaterOrEqual(b.t, f.Ratio, minControlContrast, "%s: the border's contrast against the background around it", f.Element)
	}
}

// seeErrorAnnounced checks, in Chrome's accessibility tree (what a screen reader is given),
// that the make-change error is an alert and that the amount field is marked invalid and
// described by the error's text.
func (b *browser) seeErrorAnnounced() {
	b.t.Helper()
	message := b.accessibilityNode("the error message", chromedp.ID("change-error"))
	field := b.accessibilityNode("the amount field", chromedp.ID("amount"))
	assert.Equal(b.t, "alert", axValue(message.Role), "the error message's role")
	assert.Equal(b.t, "true", axProperty(field, accessibility.PropertyNameInvalid), "the amount field is invalid")
	text := read(b, "the error message's text", chromedp.Text(chromedp.ID("change-error")))
	assert.NotEmpty(b.t, text, "the error message's text")
	assert.Equal(b.t, text, axValue(field.Description), "the amount field is described by the error message")
}

// seeNoErrorAnnounced checks that, without an error, the amount field is not marked invalid.
func (b *browser) seeNoErrorAnnounced() {
	b.t.Helper()
	field := b.accessibilityNode("the amount field", chromedp.ID("amount"))
	assert.Contains(b.t, []string{"", "false"}, axProperty(field, accessibility.PropertyNameInvalid), "the amount field is not invalid")
	assert.Empty(b.t, axValue(field.Description), "the amount field has no error to describe it")
}

// accessibilityNode is Chrome's accessibility node for the element sel finds.
func (b *browser) accessibilityNode(what string, sel chromedp.ID) *accessibility.Node {
	b.t.Helper()
	nodes := read(b, what, chromedp.Nodes(sel))
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	fetchRelatives := false
	res, err := chromedp.Call(ctx, accessibility.GetPartialAXTree, accessibility.GetPartialAXTreeParams{
		BackendNodeID: nodes[0].BackendNodeID, FetchRelatives: &fetchRelatives,
	})
	if err != nil {
		b.t.Fatalf("read the accessibility node of %s: %v", what, err)
	}
	if len(res.Nodes) == 0 {
		b.t.Fatalf("Chrome has no accessibility node for %s", what)
	}
	return res.Nodes[0]
}

// axValue is an accessibility value as text, "" when there is none.
func axValue(v *accessibility.Value) string {
	if v == nil || len(v.Value) == 0 {
		return ""
	}
	var value any
	if err := json.Unmarshal(v.Value, &value); err != nil {
		return string(v.Value)
	}
	return fmt.Sprint(value)
}

// axProperty is the value of one of the node's properties, "" when it does not have it.
func axProperty(n *accessibility.Node, name accessibility.PropertyName) string {
	for _, p := range n.Properties {
		if p.Name == name {
			return axValue(p.Value)
		}
	}
	return ""
}

// standinIsTarget says whether the suite runs against a FusionAuth stand-in, in process, in a
// container or as the command at port 9011, rather than a real FusionAuth.
func standinIsTarget() bool {
	cfg := suite.cfg
	return cfg.target == targetStandin || cfg.target == targetStandinImage || cfg.runningIsStandin
}
