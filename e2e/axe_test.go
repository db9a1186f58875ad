package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The accessibility check runs axe-core, the rule engine most accessibility audits use, inside
// the page. It is not committed: the suite fetches the npm package once with npm's own client
// (`npm pack`), so whatever registry, mirror, proxy or credentials npm is configured with apply;
// it checks the tarball against the integrity the registry publishes for it (the same check npm
// makes), and keeps it in the user's cache directory.
const (
	axeVersion   = "4.14.1"
	axePackage   = "axe-core@" + axeVersion
	axeIntegrity = "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
	// axeTarballEnv names a tarball already on disk, for a machine where npm cannot fetch it
	// (`npm pack axe-core@4.14.1` elsewhere makes one). It is checked like a fetched one.
	axeTarballEnv = "AXE_CORE_TARBALL"
	// axePackTimeout bounds npm's fetch, which a registry that does not answer would hang.
	axePackTimeout = 3 * time.Minute
)

// axeScript is axe.min.js, loaded once per test binary by the first page check that needs it.
var axeScript = sync.OnceValues(loadAxeScript)

// loadAxeScript returns axe.min.js from the tarball named by AXE_CORE_TARBALL, the cache, or
// npm, in that order. Every tarball is checked against axeIntegrity before use.
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
	tarball, err := packAxe()
	if err != nil {
		return "", fmt.Errorf("the accessibility check needs axe-core %s, which it fetches once with npm: %w\n"+
			"Where npm can fetch it, `npm pack %s` makes the tarball; copy it here to %s, or set %s to its path",
			axeVersion, err, axePackage, cached, axeTarballEnv)
	}
	if err := writeFileAtomically(cached, tarball); err != nil {
		// The check can still run; only the next run fetches again.
		fmt.Fprintf(os.Stderr, "e2e: cannot cache axe-core in %s: %v\n", cached, err)
	}
	return axeFromTarball(tarball)
}

// axeCachePath is where the checked tarball is kept between runs.
func axeCachePath() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		// No HOME, as in some CI containers: the temporary directory still spares the
		// fetches of later runs on the same machine.
		dir = os.TempDir()
	}
	return filepath.Join(dir, "changebank-e2e", "axe-core-"+axeVersion+".tgz")
}

// packAxe fetches the axe-core tarball with `npm pack` into a temporary directory and returns
// it, checked. npm reads its own configuration (`npm config get registry` shows the registry it
// uses) and, with --prefer-offline, takes the tarball from its cache when it has it.
func packAxe() ([]byte, error) {
	npm, err := exec.LookPath("npm")
	if err != nil {
		return nil, errors.New("npm is not installed: install Node.js with npm (Debian and Ubuntu: apt-get install npm; " +
			"macOS: brew install node), or bring the tarball as below")
	}
	dir, err := os.MkdirTemp("", "changebank-axe-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	ctx, cancel := context.WithTimeout(context.Background(), axePackTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "pack", axePackage, "--pack-destination", dir,
		"--prefer-offline", "--ignore-scripts", "--loglevel=warn")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false", "npm_config_fund=false", "npm_config_audit=false")
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("no answer within %s", axePackTimeout)
		}
		return nil, fmt.Errorf("npm pack %s: %w\n%s", axePackage, err, npmMessage(output.String()))
	}
	tarballs, err := filepath.Glob(filepath.Join(dir, "*.tgz"))
	if err != nil || len(tarballs) != 1 {
		return nil, fmt.Errorf("npm pack %s made %d tarballs, not one: %s", axePackage, len(tarballs), npmMessage(output.String()))
	}
	tarball, err := os.ReadFile(tarballs[0])
	if err != nil {
		return nil, err
	}
	if err := checkAxeIntegrity(tarball); err != nil {
		return nil, fmt.Errorf("npm pack %s: %w", axePackage, err)
	}
	return tarball, nil
}

// npmMessage is what npm printed, without the JavaScript stack of an error, at most 12 lines.
func npmMessage(output string) string {
	var lines []string
	for line := range strings.SplitSeq(strings.TrimSpace(output), "\n") {
		if strings.HasPrefix(strings.TrimSpace(strings.TrimPrefix(line, "npm error")), "at ") {
			continue
		}
		lines = append(lines, line)
	}
	if len(lines) > 12 {
		lines = append(lines[:12], "…")
	}
	return strings.Join(lines, "\n")
}

// checkAxeIntegrity compares the tarball with the integrity value the registry publishes for
// axe-core 4.14.1 (Subresource Integrity format: the algorithm, then the base64 digest).
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

// TestAxeCoreWithoutNpmSaysWhatToDo: with no npm, no cached tarball and no AXE_CORE_TARBALL,
// the check fails and says how to install npm and how to bring the tarball instead.
func TestAxeCoreWithoutNpmSaysWhatToDo(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // a folder without npm
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	t.Setenv(axeTarballEnv, "")

	_, err := loadAxeScript()
	require.Error(t, err, "without npm and without a tarball there is no axe-core")
	for _, want := range []string{"npm is not installed", "npm pack " + axePackage, axeTarballEnv, axeCachePath()} {
		assert.Contains(t, err.Error(), want)
	}
}
