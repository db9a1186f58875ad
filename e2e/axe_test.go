package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The accessibility check runs axe-core, the rule engine most accessibility audits use, inside
// the page. It is not committed: the suite fetches the npm package once from the registry,
// checks it against the integrity the registry publishes for it (the same check npm makes),
// and keeps it in the user's cache directory.
const (
	axeVersion   = "4.14.1"
	axeTarball   = "https://registry.npmjs.org/axe-core/-/axe-core-" + axeVersion + ".tgz"
	axeIntegrity = "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
	// axeTarballEnv names a tarball already on disk, for a machine that cannot reach the registry
	// (`npm pack axe-core@4.14.1` elsewhere makes one). It is checked like a download.
	axeTarballEnv = "AXE_CORE_TARBALL"
)

// axeScript is axe.min.js, loaded once per test binary by the first page check that needs it.
var axeScript = sync.OnceValues(loadAxeScript)

// loadAxeScript returns axe.min.js from the tarball named by AXE_CORE_TARBALL, the cache, or
// the registry, in that order. Every tarball is checked against axeIntegrity before use.
func loadAxeScript() (string, error) {
	if path := os.Getenv(axeTarballEnv); path != "" {
		tarball, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("%s: %w", axeTarballEnv, err)
		}
		if err := checkAxeIntegrity(tarball); err != nil {
			return "", fmt.Errorf("%s=%s: %w", axeTarballEnv, path, err)
		}
		return axeFromTarball(tarball)
	}

	cached := axeCachePath()
	if tarball, err := os.ReadFile(cached); err == nil && checkAxeIntegrity(tarball) == nil {
		return axeFromTarball(tarball)
	}
	tarball, err := downloadAxe()
	if err != nil {
		return "", fmt.Errorf("the accessibility check needs axe-core %s, fetched once from the npm registry: %w\n"+
			"Without the registry, make the tarball elsewhere with `npm pack axe-core@%s` and set %s to its path",
			axeVersion, err, axeVersion, axeTarballEnv)
	}
	if err := writeFileAtomically(cached, tarball); err != nil {
		// The check can still run; only the next run downloads again.
		fmt.Fprintf(os.Stderr, "e2e: cannot cache axe-core in %s: %v\n", cached, err)
	}
	return axeFromTarball(tarball)
}

// axeCachePath is where the checked tarball is kept between runs.
func axeCachePath() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		// No HOME, as in some CI containers: the temporary directory still spares the
		// downloads of later runs on the same machine.
		dir = os.TempDir()
	}
	return filepath.Join(dir, "changebank-e2e", "axe-core-"+axeVersion+".tgz")
}

func downloadAxe() ([]byte, error) {
	client := &http.Client{Timeout: 2 * time.Minute}
	resp, err := client.Get(axeTarball)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", axeTarball, resp.Status)
	}
	// The tarball is about 700 kB; a limit keeps a wrong answer from filling the memory.
	tarball, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", axeTarball, err)
	}
	if err := checkAxeIntegrity(tarball); err != nil {
		return nil, fmt.Errorf("GET %s: %w", axeTarball, err)
	}
	return tarball, nil
}

// checkAxeIntegrity compares the tarball with the registry's integrity value (Subresource
// Integrity format: the algorithm, then the base64 digest).
func checkAxeIntegrity(tarball []byte) error {
	sum := sha512.Sum512(tarball)
	if got := "sha512-" + base64.StdEncoding.EncodeToString(sum[:]); got != axeIntegrity {
		return fmt.Errorf("not axe-core %s: its integrity is %s, want %s", axeVersion, got, axeIntegrity)
	}
	return nil
}

// axeFromTarball reads package/axe.min.js out of the npm tarball.
func axeFromTarball(tarball []byte) (string, error) {
	gz, err := gzip.NewReader(bytes.NewReader(tarball))
	if err != nil {
		return "", fmt.Errorf("axe-core tarball: %w", err)
	}
	r := tar.NewReader(gz)
	for {
		h, err := r.Next()
		if errors.Is(err, io.EOF) {
			return "", errors.New("axe-core tarball: no package/axe.min.js in it")
		}
		if err != nil {
			return "", fmt.Errorf("axe-core tarball: %w", err)
		}
		if h.Name == "package/axe.min.js" {
			script, err := io.ReadAll(r)
			if err != nil {
				return "", fmt.Errorf("axe-core tarball: %w", err)
			}
			return string(script), nil
		}
	}
}

// writeFileAtomically writes data to path through a temporary file, so that a run
// interrupted half way, or two runs at once, never leave half a tarball behind.
func writeFileAtomically(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, writeErr := f.Write(data)
	closeErr := f.Close()
	if err := errors.Join(writeErr, closeErr); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

// TestAxeCoreIsCheckedBeforeUse: a tarball that is not the pinned axe-core, here a well-formed
// look-alike with its own axe.min.js, is refused before anything of it reaches a page.
func TestAxeCoreIsCheckedBeforeUse(t *testing.T) {
	var lookAlike bytes.Buffer
	gz := gzip.NewWriter(&lookAlike)
	tw := tar.NewWriter(gz)
	script := []byte(`window.axe = {run: async () => ({violations: [], incomplete: []})};`)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "package/axe.min.js", Mode: 0o644, Size: int64(len(script))}))
	_, err := tw.Write(script)
	require.NoError(t, err)
	require.NoError(t, tw.Close())
	require.NoError(t, gz.Close())
	path := filepath.Join(t.TempDir(), "axe-core-"+axeVersion+".tgz")
	require.NoError(t, os.WriteFile(path, lookAlike.Bytes(), 0o644))
	t.Setenv(axeTarballEnv, path)

	_, err = loadAxeScript()
	require.Error(t, err, "a look-alike tarball is refused")
	assert.Contains(t, err.Error(), "integrity", "the refusal says why")
}
