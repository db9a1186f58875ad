package fusionauthtest_test

// The model check: the kickstart's requests, and every OAuth error value the
// stand-in can give, against FusionAuth's published domain model for the
// version in .env (modelanswers_test.go checks the stand-in's answers).
//
//	npm pack @fusionauth/typescript-client@1.69.0 && tar -xzf fusionauth-typescript-client-1.69.0.tgz
//	FUSIONAUTH_MODEL_DIR=$PWD/package go test -v -run Model ./e2e/fusionauthtest
//
// .ci/run does exactly this and fails if a model test skips. Without
// FUSIONAUTH_MODEL_DIR the checks skip and say why; with it set, a model that
// cannot be read fails them.

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"changebank/e2e/fusionauthtest"
)

// modelDirVariable names the unpacked @fusionauth/typescript-client package.
const modelDirVariable = "FUSIONAUTH_MODEL_DIR"

// publishedModel is FusionAuth's model at one version.
type publishedModel struct {
	*tsModel
	version string
}

// loadPublishedModel reads the package FUSIONAUTH_MODEL_DIR names, or skips the
// test, saying why, when it is not set.
func loadPublishedModel(t *testing.T) publishedModel {
	t.Helper()
	dir := os.Getenv(modelDirVariable)
	if dir == "" {
		t.Skipf("%s is not set, so FusionAuth's published model was not checked: unpack @fusionauth/typescript-client@%s (npm pack) and set it to the package folder; .ci/run does",
			modelDirVariable, dotEnvVersion(t))
	}
	version, err := modelVersion(dir)
	require.NoError(t, err, "%s=%s", modelDirVariable, dir)
	source, err := os.ReadFile(filepath.Join(dir, "build", "src", "FusionAuthClient.d.ts"))
	require.NoError(t, err, "%s=%s holds FusionAuth's declarations", modelDirVariable, dir)
	m, err := parseTSModel(string(source))
	require.NoError(t, err)
	return publishedModel{tsModel: m, version: version}
}

// modelVersion reads the package's name and version from its package.json.
func modelVersion(dir string) (string, error) {
	data, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return "", err
	}
	var pkg struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	}
	if err := json.Unmarshal(data, &pkg); err != nil {
		return "", fmt.Errorf("package.json: %w", err)
	}
	if pkg.Name != "@fusionauth/typescript-client" {
		return "", fmt.Errorf("package.json names %q, not @fusionauth/typescript-client", pkg.Name)
	}
	return pkg.Version, nil
}

// TestModelIsForTheVersionInDotEnv: a model of another version proves nothing
// about the FusionAuth this project runs.
func TestModelIsForTheVersionInDotEnv(t *testing.T) {
	m := loadPublishedModel(t)
	assert.Equal(t, dotEnvVersion(t), m.version,
		"FusionAuth's model package and .env's FUSIONAUTH_VERSION differ: fetch @fusionauth/typescript-client@%s", dotEnvVersion(t))
}

// kickstartRequestTypes maps a kickstart request's URL to the model's request type.
var kickstartRequestTypes = []struct {
	url      *regexp.Regexp
	typeName string
}{
	{regexp.MustCompile(`^/api/key(/generate)?(/[^/]+)?$`), "KeyRequest"},
	{regexp.MustCompile(`^/api/tenant(/[^/]+)?$`), "TenantRequest"},
	{regexp.MustCompile(`^/api/application(/[^/]+)?$`), "ApplicationRequest"},
	{regexp.MustCompile(`^/api/user/registration(/[^/]+)?$`), "RegistrationRequest"},
	{regexp.MustCompile(`^/api/user(/[^/]+)?$`), "UserRequest"},
}

// kickstartProblems checks every request body of the kickstart at path, after
// its variables are substituted, against the model.
func kickstartProblems(t *testing.T, m publishedModel, path string) []string {
	t.Helper()
	ks, err := fusionauthtest.LoadKickstart(path, nil)
	require.NoError(t, err)
	var problems []string
	for i, req := range ks.Requests {
		where := fmt.Sprintf("kickstart request %d (%s %s)", i, req.Method, req.Path())
		typeName := ""
		for _, rt := range kickstartRequestTypes {
			if rt.url.MatchString(strings.SplitN(req.Path(), "?", 2)[0]) {
				typeName = rt.typeName
				break
			}
		}
		if typeName == "" {
			problems = append(problems, where+": no request type of the model is known for this URL; add it to kickstartRequestTypes")
			continue
		}
		for _, p := range m.check(req.Body, typeName) {
			problems = append(problems, where+" as "+typeName+": "+p)
		}
	}
	return problems
}

// TestModelKickstartRequests: FusionAuth ignores a field it does not know, so
// a misspelled or misplaced kickstart field only shows up here.
func TestModelKickstartRequests(t *testing.T) {
	m := loadPublishedModel(t)
	assert.Empty(t, kickstartProblems(t, m, projectKickstart), "the project's kickstart against FusionAuth %s's model", m.version)
}

// TestModelCheckFindsKickstartMistakes: the check above fails for each kind of
// mistake, planted in a copy of the project's kickstart.
func TestModelCheckFindsKickstartMistakes(t *testing.T) {
	m := loadPublishedModel(t)
	original, err := os.ReadFile(projectKickstart)
	require.NoError(t, err)
	tests := []struct {
		name, from, to, want string
	}{
		{"a misspelled field", `"proofKeyForCodeExchangePolicy"`, `"proofKeyForCodeExchangePolicyy"`,
			`unknown field "proofKeyForCodeExchangePolicyy" of OAuth2Configuration`},
		{"a field in the wrong object", `"generateRefreshTokens": true,`, `"generateRefreshTokens": true, "refreshTokenUsagePolicy": "OneTimeUse",`,
			`unknown field "refreshTokenUsagePolicy" of OAuth2Configuration (it is a field of JWTConfiguration`},
		{"an enum value FusionAuth lacks", `"clientAuthenticationPolicy": "Required"`, `"clientAuthenticationPolicy": "Always"`,
			`"Always" is not a value of ClientAuthenticationPolicy`},
		{"a grant FusionAuth lacks", `"authorization_code"`, `"authorization-code"`, `"authorization-code" is not a value of GrantType`},
		{"a boolean written as a string", `"requireRegistration": true`, `"requireRegistration": "true"`,
			`requireRegistration: want a boolean, got a string`},
		{"a number written as a string", `"timeToLiveInSeconds": 3600`, `"timeToLiveInSeconds": "3600"`,
			`timeToLiveInSeconds: want a number, got a string`},
		{"an id that is no UUID", `"applicationId": "e9fdb985-9173-4e01-9d73-ac2d60d1dc8e"`, `"applicationId": "changebank"`,
			`registration.applicationId: want a UUID, got "changebank"`},
		{"a request the check cannot type", `"/api/tenant/#{defaultTenantId}"`, `"/api/webhook"`,
			`no request type of the model is known for this URL`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			edited := strings.Replace(string(original), tt.from, tt.to, 1)
			require.True(t, strings.Contains(string(original), tt.from), "the kickstart contains %q", tt.from)
			path := filepath.Join(t.TempDir(), "kickstart.json")
			require.NoError(t, os.WriteFile(path, []byte(edited), 0o644))
			problems := kickstartProblems(t, m, path)
			assert.True(t, slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tt.want) }),
				"want a problem containing %q, got %q", tt.want, problems)
		})
	}
}

// TestModelVersionCheckFindsDrift: a package of another version is named as such.
func TestModelVersionCheckFindsDrift(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"name":"@fusionauth/typescript-client","version":"1.61.2"}`), 0o644))
	version, err := modelVersion(dir)
	require.NoError(t, err)
	assert.NotEqual(t, dotEnvVersion(t), version, "a 1.61.2 model is not .env's version")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"name":"left-pad","version":"1.69.0"}`), 0o644))
	_, err = modelVersion(dir)
	assert.ErrorContains(t, err, "not @fusionauth/typescript-client")
}

// standinOAuthError is one oauthError literal in the stand-in's source.
type standinOAuthError struct {
	where, errorType, reason string
}

// standinOAuthErrors reads every oauthError literal in the stand-in's own
// source: every OAuth error it can give, whether a test reaches it or not.
func standinOAuthErrors(t *testing.T) []standinOAuthError {
	t.Helper()
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	var parsed []*ast.File
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		require.NoError(t, err)
		parsed = append(parsed, f)
	}
	fields := oauthErrorFields(t, parsed)

	var found []standinOAuthError
	for _, f := range parsed {
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			if id, ok := lit.Type.(*ast.Ident); !ok || id.Name != "oauthError" {
				return true
			}
			e := standinOAuthError{where: fset.Position(lit.Pos()).String()}
			for i, elt := range lit.Elts {
				field, value := "", elt
				if kv, ok := elt.(*ast.KeyValueExpr); ok {
					field, value = kv.Key.(*ast.Ident).Name, kv.Value
				} else if i < len(fields) {
					field = fields[i]
				}
				text := stringLiteral(value)
				switch field {
				case "Error":
					e.errorType = text
				case "Reason":
					e.reason = text
				}
			}
			found = append(found, e)
			return true
		})
	}
	require.NotEmpty(t, found, "the stand-in's source has oauthError literals")
	return found
}

// oauthErrorFields is the oauthError struct's field names in order, for
// literals written without keys.
func oauthErrorFields(t *testing.T, files []*ast.File) []string {
	t.Helper()
	for _, f := range files {
		for _, decl := range f.Decls {
			gen, ok := decl.(*ast.GenDecl)
			if !ok {
				continue
			}
			for _, spec := range gen.Specs {
				ts, ok := spec.(*ast.TypeSpec)
				if !ok || ts.Name.Name != "oauthError" {
					continue
				}
				var names []string
				for _, field := range ts.Type.(*ast.StructType).Fields.List {
					for _, name := range field.Names {
						names = append(names, name.Name)
					}
				}
				return names
			}
		}
	}
	t.Fatal("no oauthError type in the stand-in's source")
	return nil
}

// stringLiteral is the value of a string literal, or a marker the enums never hold.
func stringLiteral(e ast.Expr) string {
	if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
		if s, err := strconv.Unquote(lit.Value); err == nil {
			return s
		}
	}
	return "(not a string literal: the model check reads only literals)"
}

// oauthErrorValueProblems holds each error and error_reason to the model's enums.
func oauthErrorValueProblems(m publishedModel, errs []standinOAuthError) []string {
	var problems []string
	for _, e := range errs {
		if !slices.Contains(m.enums["OAuthErrorType"], e.errorType) {
			problems = append(problems, fmt.Sprintf("%s: error %q is not an OAuthErrorType", e.where, e.errorType))
		}
		if !slices.Contains(m.enums["OAuthErrorReason"], e.reason) {
			problems = append(problems, fmt.Sprintf("%s: error_reason %q is not an OAuthErrorReason", e.where, e.reason))
		}
	}
	return problems
}

// TestModelEveryOAuthErrorOfTheStandin: every error and error_reason the
// stand-in can answer (JSON bodies, error redirects, error pages, faults) is
// one FusionAuth has.
func TestModelEveryOAuthErrorOfTheStandin(t *testing.T) {
	m := loadPublishedModel(t)
	errs := standinOAuthErrors(t)
	assert.Empty(t, oauthErrorValueProblems(m, errs), "the stand-in's %d OAuth errors against FusionAuth %s's enums", len(errs), m.version)

	t.Run("an error_reason FusionAuth lacks is found", func(t *testing.T) {
		planted := append(slices.Clone(errs), standinOAuthError{where: "planted", errorType: "invalid_request", reason: "invalid_access_token"})
		assert.Contains(t, oauthErrorValueProblems(m, planted), `planted: error_reason "invalid_access_token" is not an OAuthErrorReason`)
	})
}
