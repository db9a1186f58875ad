package e2e

import (
	"bytes"
	"flag"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// update makes TestTutorialPictures write the tutorial's pictures into images/ at the
// repository's root: go test ./e2e -run TestTutorialPictures -update
var update = flag.Bool("update", false, "write the tutorial's pictures into images/ instead of a temporary directory")

// The pictures are the size of a small laptop's browser window, which keeps them readable in
// the tutorial and small on disk.
const (
	pictureWidth  = 1000
	pictureHeight = 700
	// maxPictureBytes keeps the repository light; the pages are flat colour and text.
	maxPictureBytes = 150 << 10
)

// TestTutorialPictures walks through the tutorial's steps and takes the pictures it shows: the
// stub's home page, the complete application's home page, its answer to a forged callback,
// FusionAuth's login page, the account page, a make-change result and the home page after
// logging out. The login page's picture is named for the FusionAuth it shows, so
// that a picture of the stand-in's page is never taken for FusionAuth's. With -update they go
// into images/; without, into a temporary directory, checked the same way.
func TestTutorialPictures(t *testing.T) {
	t.Parallel() // its own browser window; it changes nothing FusionAuth or the apps share
	dir := t.TempDir()
	if *update {
		dir = filepath.Join(suite.cfg.root, "images")
		require.NoError(t, os.MkdirAll(dir, 0o755))
	}
	b := newBrowser(t)
	b.do("size the window for the pictures", chromedp.EmulateViewport(pictureWidth, pictureHeight))

	b.openHome(suite.stubURL)
	b.takePicture(dir, "stub-home.png")

	b.openHome(suite.appURL)
	b.takePicture(dir, "home.png")

	b.do("open a callback this browser did not start",
		chromedp.Navigate(suite.appURL+"/callback?state=forged&code=forged"), chromedp.WaitVisible(chromedp.ID("error")))
	b.takePicture(dir, "login-refused.png")

	b.openHome(suite.appURL)
	b.clickLogin()
	b.do("type richard's email and password into FusionAuth's login form",
		chromedp.SendKeys(chromedp.ID("loginId"), richard),
		chromedp.SendKeys(chromedp.ID("password"), password))
	banner := read(b, "whether the page carries the stand-in's banner",
		chromedp.Evaluate[bool](`document.querySelector("#standin-banner") !== null`))
	login := "login-fusionauth.png"
	if standinIsTarget() {
		login = "login-standin.png"
		assert.True(t, banner, "the stand-in's login page says it is the stand-in's")
	} else {
		assert.False(t, banner, "a real FusionAuth's login page carries no stand-in banner")
	}
	b.takePicture(dir, login)

	b.submit("submit FusionAuth's login form", loginSubmit)
	b.seeAccount(richard)
	b.takePicture(dir, "account.png")

	b.do("follow Make change", chromedp.Click(chromedp.ID("make-change-link"), chromedp.NodeVisible),
		chromedp.WaitVisible(chromedp.ID("make-change-form")))
	result, problem := b.makeChange("0.29")
	require.Empty(t, problem, "make change for 0.29")
	require.NotEmpty(t, result, "make change for 0.29")
	b.takePicture(dir, "make-change.png")

	b.do("go back to the account page", chromedp.Navigate(suite.appURL+"/account"), chromedp.WaitVisible(chromedp.ID("logout")))
	b.logOut()
	b.takePicture(dir, "logged-out.png")
}

// takePicture saves what the window shows as dir/name and checks the picture: a PNG of the
// window's size, with the variety of a page of text (not one flat colour), and small.
func (b *browser) takePicture(dir, name string) {
	b.t.Helper()
	// A picture shows the page at rest: no focus ring, caret or hover left by the steps.
	b.do("put the page at rest for "+name,
		chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur()`),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, 0, 0))
	shot := read(b, "a picture of the page for "+name, chromedp.CaptureScreenshot())
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		b.t.Fatalf("save %s: %v", path, err)
	}
	b.t.Logf("picture %s (%d kB) of %s", path, len(shot)>>10, withoutQuery(b.location()))

	picture, err := png.Decode(bytes.NewReader(shot))
	if !assert.NoError(b.t, err, "%s is a PNG", name) {
		return
	}
	size := picture.Bounds().Size()
	assert.Equal(b.t, image.Pt(pictureWidth, pictureHeight), size, "%s is the window's size", name)
	colours, commonest := colourCounts(picture)
	assert.GreaterOrEqual(b.t, colours, 32, "%s has the colours of a page with text (antialiased letters), not a blank", name)
	assert.Less(b.t, float64(commonest)/float64(size.X*size.Y), 0.9, "%s is not mostly one colour", name)
	assert.LessOrEqual(b.t, len(shot), maxPictureBytes, "%s stays small", name)
}

// colourCounts returns how many colours the picture holds and how many pixels the commonest one
// covers.
func colourCounts(picture image.Image) (colours, commonest int) {
	counts := map[[4]uint32]int{}
	bounds := picture.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r, g, b, a := picture.At(x, y).RGBA()
			counts[[4]uint32{r, g, b, a}]++
		}
	}
	for _, n := range counts {
		commonest = max(commonest, n)
	}
	return len(counts), commonest
}
