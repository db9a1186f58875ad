package fusionauthtest_test

// The GitHub workflow runs where a registry is reachable; this check runs
// everywhere, so that a broken workflow shows up before anyone pushes it.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

const moduleRoot = "../.."

type workflow struct {
	Jobs map[string]workflowJob `yaml:"jobs"`
}

type workflowJob struct {
	Strategy struct {
		Matrix map[string]any `yaml:"matrix"`
	} `yaml:"strategy"`
	Env   map[string]string `yaml:"env"`
	Steps []workflowStep    `yaml:"steps"`
}

type workflowStep struct {
	Name string            `yaml:"name"`
	Uses string            `yaml:"uses"`
	Run  string            `yaml:"run"`
	Env  map[string]string `yaml:"env"`
	With map[string]string `yaml:"with"`
}

func readWorkflow(t *testing.T, path string) workflow {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var wf workflow
	require.NoError(t, yaml.Unmarshal(data, &wf), "%s parses as YAML", path)
	return wf
}

var (
	packagePattern = regexp.MustCompile(`(?:^|\s)(\./[^\s'"]*)`)
	composeFile    = regexp.MustCompile(`docker compose\s+-f\s+(\S+)`)
	goTestRun      = regexp.MustCompile(`go test\b[^\n]*?-run\s+(\S+)[^\n]*?\s(\./\S+)`)
)

// workflowProblems lists what is wrong with the workflow at path: everything a
// check can see without running it.
func workflowProblems(t *testing.T, path string) []string {
	t.Helper()
	wf := readWorkflow(t, path)
	var problems []string
	if len(wf.Jobs) == 0 {
		problems = append(problems, "no jobs")
	}
	for name, job := range wf.Jobs {
		if len(job.Steps) == 0 {
			problems = append(problems, "job "+name+" has no steps")
		}
		versions, _ := job.Strategy.Matrix["fusionauth"].([]any)
		if !slices.Contains(versions, any(dotEnvVersion(t))) {
			problems = append(problems, "job "+name+"'s matrix lacks .env's FusionAuth version "+dotEnvVersion(t))
		}
		if !slices.ContainsFunc(versions, func(v any) bool { s, _ := v.(string); return strings.HasPrefix(s, "1.61.") }) {
			problems = append(problems, "job "+name+"'s matrix lacks a 1.61.x version (the markup before 1.62)")
		}
		if job.Env["FUSIONAUTH_VERSION"] != "${{ matrix.fusionauth }}" {
			problems = append(problems, "job "+name+" does not pass the matrix version as FUSIONAUTH_VERSION")
		}
		for _, step := range job.Steps {
			problems = append(problems, stepProblems(name, step)...)
		}
	}
	return problems
}

func stepProblems(job string, step workflowStep) []string {
	where := "job " + job + ", step " + step.Name + ": "
	var problems []string
	if (step.Uses == "") == (step.Run == "") {
		return append(problems, where+"needs exactly one of uses and run")
	}
	if strings.HasPrefix(step.Uses, "actions/upload-artifact") && !strings.Contains(step.With["name"], "matrix.fusionauth") {
		problems = append(problems, where+"the artifact's name does not name the FusionAuth version")
	}
	for _, m := range packagePattern.FindAllStringSubmatch(step.Run, -1) {
		dir := strings.TrimSuffix(strings.TrimSuffix(m[1], "..."), "/")
		if _, err := os.Stat(filepath.Join(moduleRoot, dir)); err != nil {
			problems = append(problems, where+m[1]+" does not exist")
		}
	}
	if strings.Contains(step.Run, "docker compose") {
		files := composeFile.FindAllStringSubmatch(step.Run, -1)
		if len(files) == 0 {
			files = [][]string{{"", "docker-compose.yml"}}
		}
		for _, f := range files {
			if _, err := os.Stat(filepath.Join(moduleRoot, f[1])); err != nil {
				problems = append(problems, where+"compose file "+f[1]+" does not exist")
			}
		}
	}
	for _, m := range goTestRun.FindAllStringSubmatch(step.Run, -1) {
		if !packageHasTest(m[2], m[1]) {
			problems = append(problems, where+"-run "+m[1]+" matches no test in "+m[2])
		}
	}
	if strings.Contains(step.Run, "go test") && strings.Contains(step.Run, "./...") && step.Env["FUSIONAUTH_TARGET"] != "image" {
		problems = append(problems, where+"go test ./... without FUSIONAUTH_TARGET=image")
	}
	return problems
}

// packageHasTest reports whether a test function in the package folder matches pattern.
func packageHasTest(pkg, pattern string) bool {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return false
	}
	files, _ := filepath.Glob(filepath.Join(moduleRoot, pkg, "*_test.go"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		for _, m := range regexp.MustCompile(`(?m)^func (Test\w+)\(`).FindAllStringSubmatch(string(data), -1) {
			if re.MatchString(m[1]) {
				return true
			}
		}
	}
	return false
}

func TestWorkflowIsRunnable(t *testing.T) {
	assert.Empty(t, workflowProblems(t, filepath.Join(moduleRoot, ".github/workflows/test.yml")))
}

// TestWorkflowCheckFindsMistakes: the check above fails on a broken copy.
func TestWorkflowCheckFindsMistakes(t *testing.T) {
	original, err := os.ReadFile(filepath.Join(moduleRoot, ".github/workflows/test.yml"))
	require.NoError(t, err)
	tests := []struct {
		name, from, to, want string
	}{
		{"a package that does not exist", "./e2e/fusionauthtest", "./e2e/no-such-package", "does not exist"},
		{"a compose file that does not exist", "docker compose -f docker-compose.yml up", "docker compose -f no-such-compose.yml up", "compose file"},
		{"-run that matches no test", "-run Contract", "-run NoSuchTest", "matches no test"},
		{"the pinned version missing", `"` + dotEnvVersion(t) + `"`, `"0.0.1"`, "lacks .env's"},
		{"no 1.61 version", `"1.61.2"`, `"1.62.0"`, "lacks a 1.61.x"},
		{"an unnamed artifact", "e2e-artifacts-fusionauth-${{ matrix.fusionauth }}", "e2e-artifacts", "does not name"},
		{"no explicit target", "FUSIONAUTH_TARGET: image", "FUSIONAUTH_TARGET: standin", "FUSIONAUTH_TARGET=image"},
		{"a job without steps", "    steps:\n", "    steps: []\n    unused:\n", "has no steps"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			broken := strings.Replace(string(original), tt.from, tt.to, 1)
			require.NotEqual(t, string(original), broken, "the workflow contains %q", tt.from)
			path := filepath.Join(t.TempDir(), "test.yml")
			require.NoError(t, os.WriteFile(path, []byte(broken), 0o644))
			problems := workflowProblems(t, path)
			assert.True(t, slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tt.want) }),
				"want a problem containing %q, got %q", tt.want, problems)
		})
	}

	t.Run("YAML that does not parse", func(t *testing.T) {
		var wf workflow
		assert.Error(t, yaml.Unmarshal([]byte("jobs:\n  test: [unclosed\n"), &wf))
	})
}

// pinnedImages are the images docker-compose.yml runs and the e2e suite starts, each with the
// .env variable that holds its tag.
var pinnedImages = []struct{ name, versionVar string }{
	{"fusionauth/fusionauth-app", "FUSIONAUTH_VERSION"},
	{"postgres", "POSTGRES_VERSION"},
}

// readDotEnv reads the NAME=value lines of a .env file.
func readDotEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	vars := map[string]string{}
	for line := range strings.SplitSeq(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if name, value, ok := strings.Cut(line, "="); ok {
			vars[strings.TrimSpace(name)] = strings.TrimSpace(value)
		}
	}
	return vars
}

// composeVariable is a tag given as ${NAME} or ${NAME:-default}.
var composeVariable = regexp.MustCompile(`^\$\{(\w+)(?::-([^}]*))?\}$`)

// versionProblems lists where the workflow's matrix, .env and docker-compose.yml under root
// disagree: the images and their versions must be the same everywhere.
func versionProblems(t *testing.T, root string) []string {
	t.Helper()
	env := readDotEnv(t, filepath.Join(root, ".env"))
	var problems []string
	for _, img := range pinnedImages {
		if env[img.versionVar] == "" {
			problems = append(problems, ".env does not set "+img.versionVar)
		}
	}

	data, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	require.NoError(t, err)
	var compose struct {
		Services map[string]struct {
			Image string `yaml:"image"`
		} `yaml:"services"`
	}
	require.NoError(t, yaml.Unmarshal(data, &compose), "docker-compose.yml parses as YAML")
	tags := map[string][]string{} // image name: the tags the services give it
	for service, s := range compose.Services {
		name, tag, ok := strings.Cut(s.Image, ":")
		if !ok {
			problems = append(problems, "docker-compose.yml: service "+service+"'s image "+s.Image+" has no tag")
			continue
		}
		tags[name] = append(tags[name], tag)
	}
	for _, img := range pinnedImages {
		if len(tags[img.name]) != 1 {
			problems = append(problems, fmt.Sprintf("docker-compose.yml runs %s in %d services, not 1", img.name, len(tags[img.name])))
			continue
		}
		tag := tags[img.name][0]
		switch m := composeVariable.FindStringSubmatch(tag); {
		case m == nil && tag != env[img.versionVar]:
			problems = append(problems, fmt.Sprintf("docker-compose.yml pins %s:%s, but .env's %s is %s", img.name, tag, img.versionVar, env[img.versionVar]))
		case m != nil && m[1] != img.versionVar:
			problems = append(problems, fmt.Sprintf("docker-compose.yml takes %s's tag from %s, not from .env's %s", img.name, m[1], img.versionVar))
		case m != nil && m[2] != "" && m[2] != env[img.versionVar]:
			problems = append(problems, fmt.Sprintf("docker-compose.yml's default tag of %s is %s, but .env's %s is %s", img.name, m[2], img.versionVar, env[img.versionVar]))
		}
	}
	for name := range tags {
		if !slices.ContainsFunc(pinnedImages, func(img struct{ name, versionVar string }) bool { return img.name == name }) {
			problems = append(problems, "docker-compose.yml runs "+name+", which neither .env pins nor the e2e suite starts")
		}
	}

	wf := readWorkflow(t, filepath.Join(root, ".github/workflows/test.yml"))
	for name, job := range wf.Jobs {
		versions, _ := job.Strategy.Matrix["fusionauth"].([]any)
		if len(versions) == 0 || versions[0] != any(env["FUSIONAUTH_VERSION"]) {
			problems = append(problems, fmt.Sprintf("job %s's matrix starts with %v, not .env's FUSIONAUTH_VERSION %s", name, versions, env["FUSIONAUTH_VERSION"]))
		}
	}
	return problems
}

// dependabotEcosystems are the ecosystems .github/dependabot.yml must keep up to date, each
// with the file names that show where its manifests are.
var dependabotEcosystems = map[string][]string{
	"gomod":          {"go.mod"},
	"github-actions": {".github/workflows"},
	"docker-compose": {"docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml"},
}

// dependabotProblems lists what .github/dependabot.yml under root misses: an ecosystem, a
// schedule, a directory that exists and holds the ecosystem's manifest, or a folder with such a
// manifest that no entry covers.
func dependabotProblems(t *testing.T, root string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, ".github/dependabot.yml"))
	require.NoError(t, err)
	var config struct {
		Version int `yaml:"version"`
		Updates []struct {
			Ecosystem   string   `yaml:"package-ecosystem"`
			Directory   string   `yaml:"directory"`
			Directories []string `yaml:"directories"`
			Schedule    struct {
				Interval string `yaml:"interval"`
			} `yaml:"schedule"`
		} `yaml:"updates"`
	}
	require.NoError(t, yaml.Unmarshal(data, &config), "dependabot.yml parses as YAML")
	var problems []string
	if config.Version != 2 {
		problems = append(problems, fmt.Sprintf("dependabot.yml has version %d, not 2", config.Version))
	}
	covered := map[string]map[string]bool{} // ecosystem: the folders its entries name, from root
	for _, u := range config.Updates {
		manifests, known := dependabotEcosystems[u.Ecosystem]
		if !known {
			continue
		}
		if u.Schedule.Interval == "" {
			problems = append(problems, "dependabot.yml: the "+u.Ecosystem+" entry has no schedule interval")
		}
		if covered[u.Ecosystem] == nil {
			covered[u.Ecosystem] = map[string]bool{}
		}
		for _, dir := range append([]string{u.Directory}, u.Directories...) {
			if dir == "" {
				continue
			}
			rel := strings.Trim(dir, "/")
			if rel == "" {
				rel = "."
			}
			covered[u.Ecosystem][rel] = true
			if !slices.ContainsFunc(manifests, func(m string) bool { return exists(filepath.Join(root, rel, m)) }) {
				problems = append(problems, "dependabot.yml: the "+u.Ecosystem+" entry's directory "+dir+" holds none of "+strings.Join(manifests, ", "))
			}
		}
	}
	for ecosystem, manifests := range dependabotEcosystems {
		if covered[ecosystem] == nil {
			problems = append(problems, "dependabot.yml has no "+ecosystem+" entry")
			continue
		}
		for _, dir := range foldersHolding(t, root, manifests) {
			if !covered[ecosystem][dir] {
				problems = append(problems, "dependabot.yml: no "+ecosystem+" entry covers "+dir)
			}
		}
	}
	return problems
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// foldersHolding lists the folders under root, relative to it, that hold one of manifests.
// It skips hidden folders other than the root's .github, and e2e/artifacts.
func foldersHolding(t *testing.T, root string, manifests []string) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		if rel != "." && (strings.HasPrefix(d.Name(), ".") || rel == filepath.Join("e2e", "artifacts")) {
			return filepath.SkipDir
		}
		if slices.ContainsFunc(manifests, func(m string) bool { return exists(filepath.Join(path, m)) }) {
			dirs = append(dirs, filepath.ToSlash(rel))
		}
		return nil
	})
	require.NoError(t, err)
	return dirs
}

func TestVersionsAgree(t *testing.T) {
	assert.Empty(t, versionProblems(t, moduleRoot))
}

func TestDependabotCoversTheProject(t *testing.T) {
	assert.Empty(t, dependabotProblems(t, moduleRoot))
}

// TestVersionAndDependabotChecksFindMistakes: the two checks above fail on a copy of the
// project's files with one mistake planted.
func TestVersionAndDependabotChecksFindMistakes(t *testing.T) {
	const (
		dotEnv     = ".env"
		compose    = "docker-compose.yml"
		workflow   = ".github/workflows/test.yml"
		dependabot = ".github/dependabot.yml"
	)
	version := dotEnvVersion(t)
	tests := []struct {
		name, file, from, to string
		extraFile            string // a file to create in the copy, from its root
		want                 string
	}{
		{name: ".env moves on, the matrix does not", file: dotEnv, from: "FUSIONAUTH_VERSION=" + version, to: "FUSIONAUTH_VERSION=9.9.9",
			want: "matrix starts with"},
		{name: "the matrix's first entry is another version", file: workflow, from: `["` + version + `", "1.61.2"]`, to: `["1.61.2", "` + version + `"]`,
			want: "not .env's FUSIONAUTH_VERSION"},
		{name: "compose pins a literal version .env does not have", file: compose, from: "postgres:${POSTGRES_VERSION}", to: "postgres:15.0-bookworm",
			want: "pins postgres:15.0-bookworm, but .env's POSTGRES_VERSION"},
		{name: "compose takes a tag from another variable", file: compose, from: "fusionauth-app:${FUSIONAUTH_VERSION}", to: "fusionauth-app:${FA_VERSION}",
			want: "from FA_VERSION, not from .env's FUSIONAUTH_VERSION"},
		{name: "compose's default tag differs from .env", file: compose, from: "fusionauth-app:${FUSIONAUTH_VERSION}", to: "fusionauth-app:${FUSIONAUTH_VERSION:-1.0.0}",
			want: "default tag of fusionauth/fusionauth-app is 1.0.0"},
		{name: "compose runs another FusionAuth image", file: compose, from: "image: fusionauth/fusionauth-app:", to: "image: example/fusionauth-app:",
			want: "runs fusionauth/fusionauth-app in 0 services"},
		{name: ".env lacks a version", file: dotEnv, from: "POSTGRES_VERSION=", to: "POSTGRES_RELEASE=",
			want: ".env does not set POSTGRES_VERSION"},
		{name: "an ecosystem missing", file: dependabot, from: "package-ecosystem: github-actions", to: "package-ecosystem: npm",
			want: "no github-actions entry"},
		{name: "a directory without the manifest", file: dependabot, from: "package-ecosystem: gomod\n    directory: /", to: "package-ecosystem: gomod\n    directory: /e2e",
			want: "directory /e2e holds none of go.mod"},
		{name: "no schedule", file: dependabot, from: "  - package-ecosystem: docker-compose\n    directory: /\n    schedule:\n      interval: weekly", to: "  - package-ecosystem: docker-compose\n    directory: /",
			want: "docker-compose entry has no schedule interval"},
		{name: "a second compose file no entry covers", extraFile: "deploy/docker-compose.yml",
			want: "no docker-compose entry covers deploy"},
		{name: "a second Go module no entry covers", extraFile: "tools/go.mod",
			want: "no gomod entry covers tools"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for _, name := range []string{dotEnv, compose, workflow, dependabot, "go.mod"} {
				data, err := os.ReadFile(filepath.Join(moduleRoot, name))
				require.NoError(t, err)
				if name == tt.file {
					planted := strings.Replace(string(data), tt.from, tt.to, 1)
					require.NotEqual(t, string(data), planted, "%s contains %q", name, tt.from)
					data = []byte(planted)
				}
				require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(root, name)), 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(root, name), data, 0o644))
			}
			if tt.extraFile != "" {
				require.NoError(t, os.MkdirAll(filepath.Join(root, filepath.Dir(tt.extraFile)), 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(root, tt.extraFile), []byte("planted\n"), 0o644))
			}
			require.Empty(t, slices.Concat(versionProblems(t, moduleRoot), dependabotProblems(t, moduleRoot)), "the project itself has no problem")
			problems := slices.Concat(versionProblems(t, root), dependabotProblems(t, root))
			assert.True(t, slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tt.want) }),
				"want a problem containing %q, got %q", tt.want, problems)
		})
	}
}
