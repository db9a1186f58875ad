package fusionauthtest

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// The built-in kickstart variables FusionAuth defines on every instance.
const (
	// FusionAuthApplicationID is the id of FusionAuth's own admin application,
	// the same on every FusionAuth instance.
	FusionAuthApplicationID = "3c219e58-ed0e-4b18-ad48-f4f92793ae32"

	builtinApplicationID = "FUSIONAUTH_APPLICATION_ID"
	builtinTenantID      = "FUSIONAUTH_TENANT_ID"
	builtinSigningKeyID  = "FUSIONAUTH_DEFAULT_SIGNING_KEY_ID"

	// defaultTenantVariable, when defined, renames the default tenant.
	defaultTenantVariable = "defaultTenantId"
)

// Kickstart is a kickstart file after every substitution and include.
type Kickstart struct {
	Variables map[string]string  `json:"variables"`
	APIKeys   []KickstartAPIKey  `json:"apiKeys"`
	Requests  []KickstartRequest `json:"requests"`
}

// KickstartAPIKey is one entry of "apiKeys". Requests run with the first one.
type KickstartAPIKey struct {
	Key         string `json:"key"`
	KeyID       string `json:"keyId"`
	Description string `json:"description"`
}

// KickstartRequest is one entry of "requests": an admin API call.
type KickstartRequest struct {
	Method   string          `json:"method"`
	URL      string          `json:"url"`
	TenantID string          `json:"tenantId"`
	Body     json.RawMessage `json:"body"`
}

// Path returns the request URL with the leading slash FusionAuth adds when it is missing.
func (r KickstartRequest) Path() string {
	if strings.HasPrefix(r.URL, "/") {
		return r.URL
	}
	return "/" + r.URL
}

var (
	// These patterns are compiled once and never modified.
	variablePattern    = regexp.MustCompile(`#\{([^{}]+)\}`)
	jsonIncludePattern = regexp.MustCompile(`"&\{([^{}"]+)\}"`)
	textIncludePattern = regexp.MustCompile(`@\{([^{}"]+)\}`)
)

// LoadKickstart reads a kickstart file the way FusionAuth does:
//
//   - "variables" are resolved first; inside them #{UUID()} gives a new random
//     UUID and #{ENV.NAME} the environment variable NAME (read with getenv).
//   - The built-ins FUSIONAUTH_APPLICATION_ID, FUSIONAUTH_TENANT_ID (the value
//     of the variable defaultTenantId when it is defined) and
//     FUSIONAUTH_DEFAULT_SIGNING_KEY_ID are added.
//   - "&{path}" (the whole JSON string) is replaced by the JSON in path, and
//     @{path} inside a string by the JSON-escaped text of path; paths are relative
//     to the kickstart file's folder, and included files are expanded too.
//   - #{name}, #{ENV.NAME} and #{UUID()} are then replaced everywhere. Unknown
//     names are left as they are, as FusionAuth does.
//
// A syntax error is reported with its file, line and column.
func LoadKickstart(path string, getenv func(string) string) (*Kickstart, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read kickstart: %w", err)
	}

	var head struct {
		Variables map[string]string `json:"variables"`
	}
	if err := decodeJSON(raw, &head); err != nil {
		return nil, fmt.Errorf("kickstart %s: %w", path, err)
	}

	vars := make(map[string]string, len(head.Variables)+3)
	for name, value := range head.Variables {
		vars[name] = substitute(value, nil, getenv)
	}
	vars[builtinApplicationID] = FusionAuthApplicationID
	if id, ok := vars[defaultTenantVariable]; ok {
		vars[builtinTenantID] = id
	} else {
		vars[builtinTenantID] = newUUID()
	}
	vars[builtinSigningKeyID] = newUUID()

	expanded, err := expandIncludes(raw, filepath.Dir(path), 0)
	if err != nil {
		return nil, fmt.Errorf("kickstart %s: %w", path, err)
	}
	text := substitute(string(expanded), vars, getenv)

	var ks Kickstart
	if err := decodeJSON([]byte(text), &ks); err != nil {
		return nil, fmt.Errorf("kickstart %s after substitution: %w", path, err)
	}
	ks.Variables = vars
	if len(ks.APIKeys) == 0 {
		return nil, fmt.Errorf("kickstart %s: no apiKeys: requests need an API key to run with", path)
	}
	return &ks, nil
}

// substitute replaces #{UUID()}, #{ENV.NAME} and, when vars is not nil, #{name}.
func substitute(s string, vars map[string]string, getenv func(string) string) string {
	return variablePattern.ReplaceAllStringFunc(s, func(match string) string {
		name := match[2 : len(match)-1]
		switch {
		case name == "UUID()":
			return newUUID()
		case strings.HasPrefix(name, "ENV."):
			return getenv(strings.TrimPrefix(name, "ENV."))
		}
		if value, ok := vars[name]; ok {
			return value
		}
		return match
	})
}

// expandIncludes replaces "&{path}" with JSON and @{path} with escaped text.
func expandIncludes(data []byte, dir string, depth int) ([]byte, error) {
	if depth > 10 {
		return nil, errors.New("includes nested more than 10 deep (an include cycle?)")
	}
	var firstErr error
	data = jsonIncludePattern.ReplaceAllFunc(data, func(match []byte) []byte {
		name := string(match[3 : len(match)-2])
		included, err := os.ReadFile(filepath.Join(dir, name))
		if err == nil {
			included, err = expandIncludes(included, dir, depth+1)
		}
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("include &{%s}: %w", name, err)
		}
		return included
	})
	data = textIncludePattern.ReplaceAllFunc(data, func(match []byte) []byte {
		name := string(match[2 : len(match)-1])
		included, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("include @{%s}: %w", name, err)
			}
			return nil
		}
		quoted, _ := json.Marshal(string(included)) // marshalling a string cannot fail
		return quoted[1 : len(quoted)-1]
	})
	return data, firstErr
}

// decodeJSON decodes data into v and turns an offset into "line L, column C".
func decodeJSON(data []byte, v any) error {
	err := json.Unmarshal(data, v)
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntaxErr):
		// Offset counts the offending byte; report the byte itself.
		line, col := lineColumn(data, syntaxErr.Offset-1)
		return fmt.Errorf("invalid JSON at line %d, column %d: %w", line, col, err)
	case errors.As(err, &typeErr):
		line, col := lineColumn(data, typeErr.Offset)
		return fmt.Errorf("unexpected JSON value at line %d, column %d: %w", line, col, err)
	case err != nil:
		return fmt.Errorf("invalid JSON: %w", err)
	}
	return nil
}

func lineColumn(data []byte, offset int64) (line, column int) {
	offset = max(0, min(offset, int64(len(data))))
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	column = int(offset) - bytes.LastIndexByte(before, '\n')
	if column < 1 {
		column = 1
	}
	return line, column
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// findKickstart walks up from the working directory to the module root (go.mod)
// and returns its kickstart/kickstart.json.
func findKickstart() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find kickstart: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "kickstart", "kickstart.json"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find kickstart: no go.mod above the working directory; set Options.KickstartPath")
		}
		dir = parent
	}
}
