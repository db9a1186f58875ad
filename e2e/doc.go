// Package e2e is Changebank's end-to-end suite: a real browser (headless Chrome driven by
// chromedp) walks through the tutorial's promises against the stub and the complete
// application, with FusionAuth behind them.
//
//	go test -v ./e2e
//
// TestMain builds both applications, starts FusionAuth, runs the programs and one Chrome, and
// stops them all at the end. The environment variable FUSIONAUTH_TARGET chooses the FusionAuth:
//
//	(unset)        the first that fits: a FusionAuth configured by this kickstart already at
//	               localhost:9011 (as url; the stand-in command is named as such), image when a
//	               Docker engine answers and the images can be had, else standin.
//	image          fusionauth/fusionauth-app at the version pinned in ../.env, with
//	               PostgreSQL, started through testcontainers; the real thing.
//	standin-image  the FusionAuth stand-in's container image (e2e/cmd/fake-fusionauth/Dockerfile),
//	               started through the same testcontainers code; no database.
//	standin        the stand-in in this process (package fusionauthtest); no Docker at all.
//	url            an already running FusionAuth at FUSIONAUTH_URL, e.g. `docker compose up`.
//
// The suite prints the target it used, and why when it chose, when it starts and again when it
// ends. README.md in this directory lists every setting.
//
// The test files hold everything; this file exists so the package has documentation and a
// non-test file.
package e2e
