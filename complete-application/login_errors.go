package main

import (
	"errors"
	"fmt"
)

// The errors a page can meet, in one place. Only errLoggedOut ends the
// session (its cookies are deleted); the others mean "cannot check now", and
// the next request tries again.
var (
	errLoggedOut           = errors.New("not logged in")
	errProviderUnavailable = errors.New("FusionAuth is not available") // answered 503
	// A key set that cannot be fetched means "cannot check", never "invalid".
	errKeysUnavailable = fmt.Errorf("%w: its signing keys cannot be fetched", errProviderUnavailable)
	errRefreshFailed   = errors.New("FusionAuth answered a refresh with neither tokens nor a refusal") // answered 502
)

// The messages the login shows through ShowError.
const (
	msgCannotReachAtLogin = "FusionAuth cannot be reached yet. If you have just started it, wait a moment and try again."
	msgCannotReach        = "FusionAuth cannot be reached right now, so your login cannot be checked. Please try again shortly."
	msgNotRenewed         = "FusionAuth did not renew your login. Please try again shortly."
	msgLoginNotStarted    = "The login could not start. Please try again."
	msgLoginUnknown       = "This login has expired, was already used, or is not the one you started. Please log in again."
	msgLoginWrongIssuer   = "This login response came from an unexpected identity provider. Please log in again."
	msgLoginRefusedPrefix = "FusionAuth did not log you in: "
	msgLoginNoCode        = "This login response has no authorization code. Please log in again."
	msgLoginNotCompleted  = "FusionAuth did not complete the login. Please log in again."
	msgLoginFailedCheck   = "FusionAuth's answer failed a security check, so you are not logged in. Please try again."
	msgLoginNotStored     = "Your login could not be stored. Please try again."
	msgLogoutLocalOnly    = "You are logged out of this app, but FusionAuth could not be reached, so anyone using this browser " +
		"might log in again without a password, and a copy of your session may keep working until it expires. Close the browser to be sure."
	msgLogoutNotRevoked = "You are logged out, but FusionAuth could not be asked to revoke your session, so a copy of it " +
		"taken from this browser could keep working until it expires (at most the session's lifetime). If this was a shared " +
		"or untrusted computer, ask an administrator to end your sessions in FusionAuth, or change your password."
	msgCrossOrigin      = "This form can only be sent from this site's own pages."
	msgLogoutNotStarted = "This logout was not started here, so nothing was changed. To log out, use the Log out button."
)
