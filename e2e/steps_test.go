package e2e

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// The kickstart's users. Richard is registered to Changebank; the admin is registered only to
// FusionAuth's own admin application. Both have the development password "password".
const (
	richard  = "richard@example.com"
	admin    = "admin@example.com"
	password = "password"
)

// loginSubmit is the submit button of FusionAuth's login form, in every version's markup: from
// 1.62 on, the form also holds a show-password button of type "button".
const loginSubmit = chromedp.CSS(`form[action="/oauth2/authorize"] button:not([type=button])`)

// Every cookie the complete application sets starts with oidc_ (and, with an https APP_URL,
// __Host-). All of them make up the session, except the short-lived ones that carry a login
// from /login to /callback and a logout from the account page back from FusionAuth.
const (
	accessTokenCookie = "oidc_access_token"
	loginCookie       = "oidc_login"
	logoutCookie      = "oidc_logout"
)

// on returns b for a subtest: steps then fail t, and a failure leaves t's own screenshot.
func (b *browser) on(t *testing.T) *browser {
	t.Helper()
	sub := &browser{t: t, ctx: b.ctx}
	t.Cleanup(sub.saveArtifactsIfFailed)
	return sub
}

// openHome opens an application's home page and waits for its Log in button.
func (b *browser) openHome(baseURL string) {
	b.t.Helper()
	b.do("open the home page "+baseURL, chromedp.Navigate(baseURL+"/"), chromedp.WaitVisible(chromedp.ID("login")))
}

// clickLogin clicks Log in on the home page and waits for FusionAuth's login form.
func (b *browser) clickLogin() {
	b.t.Helper()
	b.do("click Log in", chromedp.Click(chromedp.ID("login"), chromedp.NodeVisible))
	b.seeLoginForm("see FusionAuth's login form")
}

// seeLoginForm waits for FusionAuth's login form, served from FusionAuth's own host.
func (b *browser) seeLoginForm(step string) {
	b.t.Helper()
	issuer := hostOf(suite.fusionAuth.url)
	b.waitUntil(step, func(ctx context.Context) (bool, string, error) {
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			return false, "no address yet", err
		}
		form, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("#loginId") !== null`))
		return hostOf(loc) == issuer && form, "the browser is at " + loc, err
	})
	b.do(step+": the form is visible", chromedp.WaitVisible(chromedp.ID("loginId")))
}

// signIn types the credentials into FusionAuth's login form and submits it.
func (b *browser) signIn(email, password string) {
	b.t.Helper()
	b.do("type "+email+"'s email and password into FusionAuth's login form",
		chromedp.SendKeys(chromedp.ID("loginId"), email),
		chromedp.SendKeys(chromedp.ID("password"), password))
	b.submit("submit FusionAuth's login form", loginSubmit)
}

// seeInvalidCredentials waits for FusionAuth's answer to a wrong password.
func (b *browser) seeInvalidCredentials() {
	b.t.Helper()
	b.waitUntil("see FusionAuth's error message", func(ctx context.Context) (bool, string, error) {
		text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		return strings.Contains(text, "Invalid login credentials."), "the page says: " + shorten(text), err
	})
}

// seeNotRegistered waits for FusionAuth's page for a user who logged in to an application they
// are not registered to: "Registration Required", at /oauth2/authorized-not-registered on
// FusionAuth's own host (LIKELY not-registered-page, e2e/fusionauthtest/FUSIONAUTH.md).
func (b *browser) seeNotRegistered() {
	b.t.Helper()
	issuer := hostOf(suite.fusionAuth.url)
	b.waitUntil(`see FusionAuth's "Registration Required" page`, func(ctx context.Context) (bool, string, error) {
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			return false, "no address yet", err
		}
		text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		u, _ := url.Parse(loc)
		there := u != nil && u.Host == issuer && u.Path == "/oauth2/authorized-not-registered"
		return there && strings.Contains(text, "Registration Required"), "the browser is at " + loc + "; the page says: " + shorten(text), err
	})
}

// seeAccount waits for the account page and checks it greets the user.
func (b *browser) seeAccount(email string) {
	b.t.Helper()
	b.waitForPage("arrive on the account page", suite.appURL+"/account")
	b.do("see the account page's email, balance and Make change link",
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.WaitVisible(chromedp.ID("balance")),
		chromedp.WaitVisible(chromedp.ID("make-change-link")))
	if got := read(b, "the email on the account page", chromedp.Text(chromedp.ID("email"))); got != email {
		b.t.Fatalf("the account page greets %q, want %q", got, email)
	}
}

// logIn is the whole login: home page, Login, FusionAuth's form, back on the account page.
func (b *browser) logIn(email string) {
	b.t.Helper()
	b.openHome(suite.appURL)
	b.clickLogin()
	b.signIn(email, password)
	b.seeAccount(email)
}

// seeHome waits for the complete application's home page, with its Log in button.
func (b *browser) seeHome(step string) {
	b.t.Helper()
	b.waitForPage(step, suite.appURL+"/")
	b.do(step+": see the Log in button", chromedp.WaitVisible(chromedp.ID("login")))
}

// openExpectingHome opens a page of the complete application and expects to be sent to the
// home page, as a visitor without a session is.
func (b *browser) openExpectingHome(path string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(suite.appURL+path))
	b.seeHome("be sent from " + path + " to the home page")
}

// makeChange submits an amount on the make-change page and returns the result, or the error
// message the page shows instead.
func (b *browser) makeChange(amount string) (result, problem string) {
	b.t.Helper()
	b.do("type "+amount+" into the amount field",
		chromedp.Clear(chromedp.ID("amount")),
		chromedp.SendKeys(chromedp.ID("amount"), amount))
	b.submit("submit the make-change form with "+amount, chromedp.CSS("#make-change-submit"))
	var answer struct{ Result, Problem string }
	b.waitUntil("see the answer for "+amount, func(ctx context.Context) (bool, string, error) {
		var err error
		answer, err = chromedp.Run(ctx, chromedp.Evaluate[struct{ Result, Problem string }](`({
			Result: document.querySelector("#change-result")?.innerText ?? "",
			Problem: document.querySelector("#change-error")?.innerText ?? "",
		})`))
		return answer.Result != "" || answer.Problem != "", "neither #change-result nor #change-error on the page", err
	})
	return answer.Result, answer.Problem
}

// appCookies returns the browser's cookies for the complete application that the application
// set (FusionAuth's cookies share the host name localhost, on another port).
func (b *browser) appCookies() map[string]*network.Cookie {
	b.t.Helper()
	cookies := map[string]*network.Cookie{}
	for _, c := range b.cookies(suite.appURL) {
		if strings.HasPrefix(strings.TrimPrefix(c.Name, "__Host-"), "oidc_") {
			cookies[strings.TrimPrefix(c.Name, "__Host-")] = c
		}
	}
	return cookies
}

// forgetAppCookies deletes the application's cookies from the browser, as if its session had
// ended on its own, and leaves FusionAuth's cookies alone.
func (b *browser) forgetAppCookies() {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	for name, c := range b.appCookies() {
		params := network.DeleteCookiesParams{Name: c.Name, Domain: c.Domain, Path: c.Path}
		if _, err := chromedp.Call(ctx, network.DeleteCookies, params); err != nil {
			b.t.Fatalf("step %q failed: %v", "delete the application's cookie "+name, err)
		}
	}
}

// seeFusionAuthRemembers is the control of the logout tests: with the application's cookies
// gone but FusionAuth's session alive, Log in returns straight to the account page without the
// form. Without it, seeing the form after logout would prove nothing.
func (b *browser) seeFusionAuthRemembers(email string) {
	b.t.Helper()
	b.forgetAppCookies()
	b.openHome(suite.appURL)
	b.do("click Log in", chromedp.Click(chromedp.ID("login"), chromedp.NodeVisible))
	b.seeAccount(email)
}

// hostOf returns the host:port of an address, or "" if it is not one.
func hostOf(address string) string {
	u, err := url.Parse(address)
	if err != nil {
		return ""
	}
	return u.Host
}

// forgetAppCookie deletes one of the application's cookies from the browser.
func (b *browser) forgetAppCookie(name string) {
	b.t.Helper()
	c, ok := b.appCookies()[name]
	if !ok {
		b.t.Fatalf("the browser holds no %s to delete", name)
	}
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	params := network.DeleteCookiesParams{Name: c.Name, Domain: c.Domain, Path: c.Path}
	if _, err := chromedp.Call(ctx, network.DeleteCookies, params); err != nil {
		b.t.Fatalf("step %q failed: %v", "delete the application's cookie "+name, err)
	}
}

// logOut clicks Log out on the account page and waits to be back on the home page, after
// FusionAuth's logout.
func (b *browser) logOut() {
	b.t.Helper()
	b.do("click Log out", chromedp.Click(chromedp.ID("logout"), chromedp.NodeVisible))
	b.seeHome("come back from FusionAuth's logout to the home page")
}

// copiedSession is what someone who copied the browser's cookies holds: an HTTP client with
// the application's cookies, which follows no redirects so each answer can be checked.
type copiedSession struct {
	t      *testing.T
	client *http.Client
}

// copyAppCookies copies the application's cookies out of the browser.
func (b *browser) copyAppCookies() *copiedSession {
	b.t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		b.t.Fatalf("make a cookie jar: %v", err)
	}
	u, err := url.Parse(suite.appURL)
	if err != nil {
		b.t.Fatalf("parse %s: %v", suite.appURL, err)
	}
	var cookies []*http.Cookie
	for _, c := range b.appCookies() {
		cookies = append(cookies, &http.Cookie{Name: c.Name, Value: c.Value, Path: c.Path})
	}
	jar.SetCookies(u, cookies)
	return &copiedSession{t: b.t, client: &http.Client{
		Jar:           jar,
		Timeout:       stepTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// openAccount asks for the account page with the copied cookies and returns the status and,
// for a redirect, its target. A request to retry (307 to the same page, which the
// application answers when FusionAuth refused a refresh that another request may have won)
// is followed once, as a browser would.
func (s *copiedSession) openAccount() (status int, location string) {
	s.t.Helper()
	for range 2 {
		resp, err := s.client.Get(suite.appURL + "/account")
		if err != nil {
			s.t.Fatalf("GET /account with the copied cookies: %v", err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		status, location = resp.StatusCode, resp.Header.Get("Location")
		if status != http.StatusTemporaryRedirect || location != "/account" {
			break
		}
	}
	return status, location
}
