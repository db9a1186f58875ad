package fusionauthtest_test

// The GitHub workflow runs where a registry is reachable; this check runs
// everywhere, so that a broken workflow shows up before anyone pushes it.

import (
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
