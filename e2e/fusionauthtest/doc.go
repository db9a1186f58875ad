// Package fusionauthtest is a FusionAuth stand-in for tests, in the spirit of
// net/http/httptest: an HTTP server that imitates, from FusionAuth's
// documentation, how FusionAuth 1.69 answers the requests this project makes,
// configured only by a kickstart file (by default the project's
// kickstart/kickstart.json). It is not FusionAuth.
//
//	fa := fusionauthtest.NewServer(t, fusionauthtest.Options{})
//	provider, err := oidc.NewProvider(ctx, fa.URL()) // issuer = fa.URL()
//
// Outside tests, Start(":9011", opts) serves it like a FusionAuth container;
// the command e2e/cmd/fake-fusionauth does just that.
//
// # What it serves
//
//   - The kickstart, read as FusionAuth reads it (see LoadKickstart), its requests
//     replayed through the admin API below with the first API key. The first
//     request it cannot apply is logged as "Failed to execute request to
//     [METHOD][url] Status [N]" and New fails; on success it logs
//     "KickstartRunner - Summary: …".
//   - The admin API, with the API key in the Authorization header:
//     POST /api/key/generate/{id}, GET /api/key/{id}, GET and PATCH
//     /api/tenant/{id}, GET, POST and PATCH /api/application/{id} (PATCH is an
//     RFC 7396 merge, which FusionAuth applies for Content-Type
//     application/merge-patch+json), POST /api/user/registration/{userId},
//     GET /api/user/registration/{userId}/{applicationId} and
//     DELETE /api/jwt/refresh.
//   - The Logout API, POST /api/logout, which needs no API key.
//   - On every response the header StandinHeader ("X-Changebank-Standin:
//     fusionauthtest"), which a real FusionAuth never sends.
//   - /api/status and /api/health, discovery (the issuer is the tenant's; the
//     endpoint URLs come from the request's X-Forwarded-* or Host), JWKS,
//     /oauth2/authorize (the hosted login page with 1.64+ markup and "Keep me
//     signed in"), the /oauth2/consent redirect every login passes through (it
//     starts the fusionauth.sso session, which ends when idle), the
//     "Registration Required" page, /oauth2/token (authorization_code with PKCE
//     and single-use 30-second codes, refresh_token with the Reusable and
//     OneTimeUse policies, client authentication by Basic or form),
//     /oauth2/userinfo and /oauth2/logout (AllApplications and RedirectOnly).
//   - The pages' own stylesheet at /standin/standin.css; each page carries a
//     banner that names it the stand-in's.
//   - Tokens signed with go-jose, with the claims FusionAuth puts in them.
//
// # Test hooks
//
//   - Clock: Options.Now sets it, Advance moves it forward (to expire codes,
//     access tokens or refresh tokens), Now reads it.
//   - Lifetimes: PATCH /api/application/{id} with
//     jwtConfiguration.timeToLiveInSeconds, exactly as against FusionAuth.
//   - Keys: RotateKey signs new tokens with a fresh RS256 key (the old one stays
//     published).
//   - Faults: InjectFault(f) makes the stand-in misbehave in one way, until
//     ClearFaults; the Fault constants list every case of the OpenID Foundation's
//     relying-party tests this project checks (bad ID tokens, bad token
//     responses, a hanging token endpoint, forged callbacks, refreshed ID tokens
//     for someone else), and some that add what FusionAuth lacks: RFC 7009 token
//     revocation (FaultAdvertiseRevocationEndpoint, at RevocationEndpointPath)
//     and refresh-token reuse detection (FaultRefreshTokenReuseDetection).
//     AllFaults lists them for table-driven tests.
//   - Requests returns every HTTP request received (method, path, query, form,
//     headers, body), so a test can assert what a client did or did not call;
//     ResetRequests forgets them.
//
// # What only a real FusionAuth proves
//
// The stand-in models FusionAuth from its documentation and observed behaviour;
// it is not FusionAuth. The contract tests in this package run unchanged against
// a real server (FUSIONAUTH_URL=http://localhost:9011 go test ./e2e/fusionauthtest)
// and are what keep the model honest; where FusionAuth's behaviour is only
// likely, they print what they observed instead of failing. FUSIONAUTH.md
// lists each behaviour modelled, how sure it is and what would settle it. Its
// answers and the kickstart are also checked against FusionAuth's published
// domain model, @fusionauth/typescript-client (README.md). Only a
// real FusionAuth run proves: the exact login page markup, wording and scripts;
// the exact error codes and descriptions where FusionAuth's documentation does
// not fix them; the timing of startup and kickstart; PostgreSQL, search, email, MFA, consent screens, themes,
// lockout and every API or grant this project does not use. The stand-in keeps
// everything in memory, has one tenant, and checks passwords in plain text.
package fusionauthtest
