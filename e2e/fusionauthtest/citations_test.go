package fusionauthtest_test

// FUSIONAUTH.md lists what the stand-in assumes about FusionAuth; the code, the
// tests and the documents cite its entries as "LIKELY gty-in-payload". These
// checks keep the citations and the list in step.

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	// entryHeading is an entry's heading in FUSIONAUTH.md: ### `name` — MARK
	entryHeading = regexp.MustCompile("(?m)^### `([a-z0-9]+(?:-[a-z0-9]+)+)` — (CERTAIN|LIKELY|UNCERTAIN)$")
	// citation is an entry cited by its mark and name.
	citation = regexp.MustCompile(`\b(CERTAIN|LIKELY|UNCERTAIN) ([a-z0-9]+(?:-[a-z0-9]+)+)\b`)
)

// fusionAuthEntries reads FUSIONAUTH.md's entries: name to mark. It fails on an
// entry without its source or what settles it, and on a name given twice.
func fusionAuthEntries(t *testing.T, doc string) map[string]string {
	t.Helper()
	entries := map[string]string{}
	headings := entryHeading.FindAllStringSubmatchIndex(doc, -1)
	require.NotEmpty(t, headings, "FUSIONAUTH.md has entries")
	for i, h := range headings {
		name, mark := doc[h[2]:h[3]], doc[h[4]:h[5]]
		end := len(doc)
		if i+1 < len(headings) {
			end = headings[i+1][0]
		}
		if next := strings.Index(doc[h[1]:end], "\n## "); next >= 0 {
			end = h[1] + next
		}
		body := doc[h[1]:end]
		_, twice := entries[name]
		assert.False(t, twice, "FUSIONAUTH.md names %s twice", name)
		entries[name] = mark
		for _, part := range []string{"Source: ", "Settled by: "} {
			assert.Contains(t, body, part, "FUSIONAUTH.md's entry %s says %q", name, part)
		}
	}
	return entries
}

// citationProblems lists the citations in text that name no entry, or give an
// entry another mark.
func citationProblems(where, text string, entries map[string]string) []string {
	var problems []string
	for _, m := range citation.FindAllStringSubmatch(text, -1) {
		mark, name := m[1], m[2]
		switch want, ok := entries[name]; {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s cites %s %s, which FUSIONAUTH.md does not list", where, mark, name))
		case want != mark:
			problems = append(problems, fmt.Sprintf("%s cites %s %s, which FUSIONAUTH.md marks %s", where, mark, name, want))
		}
	}
	return problems
}

// citingFiles are the Go files and documents of the module under root, without
// hidden folders and the e2e suite's artifacts.
func citingFiles(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			if rel != "." && (strings.HasPrefix(d.Name(), ".") || rel == filepath.Join("e2e", "artifacts")) {
				return filepath.SkipDir
			}
			return nil
		}
		if ext := filepath.Ext(path); ext == ".go" || ext == ".md" {
			files = append(files, path)
		}
		return nil
	})
	require.NoError(t, err)
	return files
}

// TestCitationsNameEntries: every citation of a FUSIONAUTH.md entry in the
// repository names an entry that exists, with the entry's mark, and nothing
// cites the notes FUSIONAUTH.md was written from.
func TestCitationsNameEntries(t *testing.T) {
	doc, err := os.ReadFile("FUSIONAUTH.md")
	require.NoError(t, err)
	entries := fusionAuthEntries(t, string(doc))

	// Assembled, so that this file does not match itself.
	outside := regexp.MustCompile(`(?i)` + strings.Join([]string{`third ` + `reading`, `found to ` + `differ`, `fusionauth-` + `facts`}, "|"))
	var problems []string
	cited := map[string]bool{}
	for _, path := range citingFiles(t, moduleRoot) {
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		rel, _ := filepath.Rel(moduleRoot, path)
		problems = append(problems, citationProblems(rel, string(data), entries)...)
		for _, m := range citation.FindAllStringSubmatch(string(data), -1) {
			cited[m[2]] = true
		}
		if m := outside.FindString(string(data)); m != "" {
			problems = append(problems, fmt.Sprintf("%s cites %q, a document the repository does not contain: cite FUSIONAUTH.md's entry instead", rel, m))
		}
	}
	assert.Empty(t, problems)
	assert.NotEmpty(t, cited, "the stand-in cites FUSIONAUTH.md's entries")
}

// TestCitationCheckFindsMistakes: the check above fails on a citation of an
// entry that does not exist, or with another mark.
func TestCitationCheckFindsMistakes(t *testing.T) {
	entries := map[string]string{"gty-in-payload": "LIKELY", "c-hash": "CERTAIN"}
	// Assembled, so that the repository's own check does not find them here.
	cite := func(mark, name string) string { return mark + " " + name }
	tests := []struct {
		name, text, want string
	}{
		{"an entry that does not exist", "// " + cite("LIKELY", "gty-in-header") + " (FUSIONAUTH.md)", "does not list"},
		{"another mark", "// " + cite("UNCERTAIN", "gty-in-payload") + " (FUSIONAUTH.md)", "marks LIKELY"},
		{"a mark that was settled", `likely(t, tg, "c_hash (` + cite("LIKELY", "c-hash") + `)", …)`, "marks CERTAIN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problems := citationProblems("x.go", tt.text, entries)
			assert.True(t, slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tt.want) }),
				"want a problem containing %q, got %q", tt.want, problems)
		})
	}
	assert.Empty(t, citationProblems("x.go", "// LIKELY gty-in-payload and CERTAIN c-hash; LIKELY, a word", entries))
}
