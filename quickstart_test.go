package changebank_test

// This test keeps quickstart.md honest. The tutorial is written as a sequence of code blocks that
// name the file they belong to, in the fence's info string:
//
//	```go stub=routes.go        the whole file, exactly as it is in stub-application/
//	```go file=login_verify.go  a whole file the reader saves at this point, in place of any
//	                            earlier one: a short stand-in for a file a later step copies
//	```diff file=routes.go      a unified diff of my-changebank/routes.go, which git apply
//	                            takes: the test applies it with git apply, as a reader may
//	```go excerpt=session.go    a few lines the reader's file holds at this point, as shown
//
// and of shell blocks, whose lines of the form
//
//	cp complete-application/PATH my-changebank/PATH
//
// copy a file the reader does not type. Every named block must follow a paragraph that names
// its file in backticks, so a reader always knows where the code goes. Starting from
// stub-application/ and applying the blocks and copies in order must give complete-application/
// exactly. Test files (*_test.go) are not part of the tutorial's steps.
//
// A line <!-- checkpoint: NAME --> marks the end of a step: quickstart_checkpoints_test.go builds
// the reader's application as it stands there and checks what the tutorial promises (see
// checkpointChecks). Each step shows at least one picture, ![…](images/NAME.png), of what the
// reader should see; the browser suite takes them (go test ./e2e -run TestTutorialPictures
// -update), and the check requires every one it names to be there. When the code changes, `go test -run TestQuickstartMatchesCode . -update`
// rewrites the blocks it can (see update) and the check names the rest.

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"go/format"
	"image/png"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tutorialBlock is one fenced code block of the tutorial that names a file.
type tutorialBlock struct {
	kind    string // "stub", "save", "diff", "excerpt", "copy", "picture" or "checkpoint"
	file    string // path inside the application folder, slash-separated; a checkpoint's name; a picture's path
	content string
	line    int // line of the opening fence in quickstart.md, for error messages
}

// checkpoint is the reader's application at the end of a step.
type checkpoint struct {
	name  string
	line  int
	files map[string][]byte
}

// update rewrites quickstart.md's code blocks from the code before checking it:
//
//	go test -run TestQuickstartMatchesCode . -update
//
// It refreshes every stub= block and every excerpt= block (the lines from its first line to its
// last, as they are now). diff blocks, copy lines and the prose stay as they are; the check then
// names whatever is left to fix.
var update = flag.Bool("update", false, "rewrite quickstart.md's stub= and excerpt= blocks from the code")

func TestQuickstartMatchesCode(t *testing.T) {
	md, stub, complete := loadTutorialInputs(t)
	if *update {
		updated, notes := updateTutorial(md, stub, complete)
		for _, note := range notes {
			t.Log(note)
		}
		require.NoError(t, os.WriteFile("quickstart.md", updated, 0o644))
		md = updated
	}
	for _, problem := range checkTutorial(md, stub, complete) {
		t.Error(problem)
	}
}

// updateTutorial returns md with its stub= and excerpt= blocks taken from the code, and a note
// for each block it could not update.
func updateTutorial(md []byte, stub, complete map[string][]byte) ([]byte, []string) {
	blocks, err := parseTutorial(md)
	if err != nil {
		return md, []string{err.Error()}
	}
	var notes []string
	replacement := map[int]string{} // opening fence line -> new body
	for _, b := range blocks {
		switch {
		case b.kind == "stub" && stub[b.file] != nil:
			replacement[b.line] = string(stub[b.file])
		case b.kind == "excerpt":
			if lines, ok := sameSpan(string(complete[b.file]), b.content); ok {
				replacement[b.line] = lines
			} else {
				notes = append(notes, fmt.Sprintf("quickstart.md:%d: the first and last lines of this excerpt of %s are no longer in it once each; update it by hand", b.line, b.file))
			}
		}
	}
	var out strings.Builder
	lines := strings.SplitAfter(string(md), "\n")
	for n := 0; n < len(lines); n++ {
		out.WriteString(lines[n])
		body, ok := replacement[n+1]
		if !ok {
			continue
		}
		for n+1 < len(lines) && strings.TrimSuffix(lines[n+1], "\n") != "```" {
			n++ // skip the old body
		}
		out.WriteString(body)
	}
	return []byte(out.String()), notes
}

// sameSpan finds in content the lines from excerpt's first line (which must be there exactly
// once) to the next occurrence of its last line, and returns them.
func sameSpan(content, excerpt string) (string, bool) {
	lines := strings.Split(strings.TrimSuffix(excerpt, "\n"), "\n")
	padded := "\n" + content
	first := "\n" + lines[0] + "\n"
	if strings.Count(padded, first) != 1 {
		return "", false
	}
	start := strings.Index(padded, first) + 1 // where the first line starts
	end := start + len(first) - 1             // just after its newline
	if len(lines) > 1 {
		last := "\n" + lines[len(lines)-1] + "\n"
		i := strings.Index(padded[end-1:], last)
		if i < 0 {
			return "", false
		}
		end += i + len(last) - 1
	}
	return padded[start:end], true
}

// A change in the code that the tutorial shows is what -update exists for: after it, the check
// passes again, and before it, the check names the change.
func TestQuickstartUpdateFollowsTheCode(t *testing.T) {
	md, stub, complete := loadTutorialInputs(t)
	blocks, err := parseTutorial(md)
	require.NoError(t, err)
	changed := cloneFiles(complete)
	var touched []string
	for _, b := range blocks {
		if b.kind == "excerpt" && !slices.Contains(touched, b.file) {
			// Change a line in the middle of what the block shows, as an edit to the code would.
			lines := strings.Split(strings.TrimSuffix(b.content, "\n"), "\n")
			middle := lines[len(lines)/2]
			require.Contains(t, string(changed[b.file]), middle+"\n")
			changed[b.file] = []byte(strings.Replace(string(changed[b.file]), middle+"\n", middle+" // changed\n", 1))
			touched = append(touched, b.file)
		}
	}
	require.NotEmpty(t, touched)
	require.NotEmpty(t, checkTutorial(md, stub, changed), "the check must notice the changes first")

	updated, notes := updateTutorial(md, stub, changed)
	assert.Empty(t, notes)
	assert.Empty(t, checkTutorial(updated, stub, changed), "after -update, for changes in %v", touched)
	again, _ := updateTutorial(updated, stub, changed)
	assert.Equal(t, string(updated), string(again), "a second -update changes nothing")
}

// TestQuickstartMatchesCode is only worth something if it notices a one-character difference on
// either side. These cases make such a change in memory and expect at least one problem.
func TestQuickstartCheckCatchesMismatch(t *testing.T) {
	md, stub, complete := loadTutorialInputs(t)
	require.Empty(t, checkTutorial(md, stub, complete), "the unmodified tutorial must pass first")

	blocks, err := parseTutorial(md)
	require.NoError(t, err)
	firstOf := func(kind string) tutorialBlock {
		for _, b := range blocks {
			hasContent := len(strings.TrimSpace(b.content)) > 0
			if b.kind == kind && (hasContent || kind == "copy" || kind == "checkpoint" || kind == "picture") {
				return b
			}
		}
		t.Fatalf("quickstart.md has no %s= block", kind)
		return tutorialBlock{}
	}

	tests := []struct {
		name   string
		mutate func(md []byte, stub, complete map[string][]byte) []byte
	}{
		{"one character changed in a diff block", func(md []byte, _, _ map[string][]byte) []byte {
			return mutateBlock(t, md, firstOf("diff"))
		}},
		{"one character changed in a stub= block", func(md []byte, _, _ map[string][]byte) []byte {
			return mutateBlock(t, md, firstOf("stub"))
		}},
		{"one character changed in a complete-application file the tutorial edits", func(md []byte, _, complete map[string][]byte) []byte {
			complete[firstOf("diff").file] = flipOneCharacter(complete[firstOf("diff").file])
			return md
		}},
		{"one character changed in a stub-application file", func(md []byte, stub, _ map[string][]byte) []byte {
			stub[firstOf("stub").file] = flipOneCharacter(stub[firstOf("stub").file])
			return md
		}},
		{"a file= block that is not gofmt-formatted", func(md []byte, _, _ map[string][]byte) []byte {
			b := firstOf("save")
			return bytes.Replace(md, []byte(b.content), []byte(strings.Replace(b.content, "\n", "\n  ", 1)), 1)
		}},
		{"one character changed in an excerpt= block", func(md []byte, _, _ map[string][]byte) []byte {
			return mutateBlock(t, md, firstOf("excerpt"))
		}},
		// A copy takes whatever the file holds, so only the lines the tutorial shows can drift.
		{"one character changed in the shown lines of a copied file", func(md []byte, _, complete map[string][]byte) []byte {
			b := firstOf("excerpt")
			changed := string(flipOneCharacter([]byte(b.content)))
			require.Contains(t, string(complete[b.file]), b.content)
			complete[b.file] = []byte(strings.Replace(string(complete[b.file]), b.content, changed, 1))
			return md
		}},
		{"a complete-application file the tutorial never mentions", func(md []byte, _, complete map[string][]byte) []byte {
			complete["unexplained.go"] = []byte("package main\n")
			return md
		}},
		{"a copy instruction removed", func(md []byte, _, _ map[string][]byte) []byte {
			line := "cp complete-application/" + firstOf("copy").file + " my-changebank/" + firstOf("copy").file + "\n"
			require.Contains(t, string(md), line)
			return bytes.Replace(md, []byte(line), nil, 1)
		}},
		{"a copy instruction the test cannot read", func(md []byte, _, _ map[string][]byte) []byte {
			line := "cp complete-application/" + firstOf("copy").file + " my-changebank/"
			require.Contains(t, string(md), line)
			return bytes.Replace(md, []byte(line), []byte(line+"x"), 1)
		}},
		{"an unknown checkpoint", func(md []byte, _, _ map[string][]byte) []byte {
			return bytes.Replace(md, []byte("<!-- checkpoint: "), []byte("<!-- checkpoint: no-such-"), 1)
		}},
		{"a picture that is not there", func(md []byte, _, _ map[string][]byte) []byte {
			b := firstOf("picture")
			return bytes.Replace(md, []byte("("+b.file+")"), []byte("(images/no-such-picture.png)"), 1)
		}},
		{"a step without a picture", func(md []byte, _, _ map[string][]byte) []byte {
			for _, b := range blocks {
				if b.kind == "picture" {
					lines := strings.SplitAfter(string(md), "\n")
					lines[b.line-1] = "\n"
					md = []byte(strings.Join(lines, ""))
				}
			}
			return md
		}},
		{"a checkpoint never declared", func(md []byte, _, _ map[string][]byte) []byte {
			b := firstOf("checkpoint")
			return bytes.Replace(md, []byte("<!-- checkpoint: "+b.file+" -->\n"), nil, 1)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stubCopy, completeCopy := cloneFiles(stub), cloneFiles(complete)
			mutated := tt.mutate(bytes.Clone(md), stubCopy, completeCopy)
			assert.NotEmpty(t, checkTutorial(mutated, stubCopy, completeCopy),
				"checkTutorial found no problem after: %s", tt.name)
		})
	}
}

// The diff blocks are applied with git apply, as a reader may apply them: a block that does not
// fit the reader's file, or names another file, is a problem, not a guess.
func TestGitApplyTakesOnlyADiffThatFits(t *testing.T) {
	const before = "a\nb\nc\n"
	header := "--- a/my-changebank/f.go\n+++ b/my-changebank/f.go\n"
	tests := []struct {
		name    string
		diff    string
		want    string
		wantErr string
	}{
		{name: "a diff that fits", diff: header + "@@ -1,3 +1,4 @@\n a\n+x\n b\n c\n", want: "a\nx\nb\nc\n"},
		{name: "context that is not in the file", diff: header + "@@ -1,3 +1,4 @@\n z\n+x\n b\n c\n", wantErr: "git apply"},
		{name: "a header that names another file", diff: "--- a/my-changebank/g.go\n+++ b/my-changebank/g.go\n@@ -1,3 +1,4 @@\n a\n+x\n b\n c\n", wantErr: "my-changebank/f.go"},
		{name: "bare lines without a hunk header", diff: header + " a\n+x\n b\n", wantErr: "git apply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := gitApply("f.go", []byte(before), tt.diff)
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(got))
		})
	}
}

// checkTutorial returns every way in which the tutorial and the two applications disagree.
func checkTutorial(md []byte, stub, complete map[string][]byte) []string {
	_, problems := replayTutorial(md, stub, complete)
	return problems
}

// replayTutorial follows the tutorial from the stub, as a reader would, and returns the reader's
// application at each checkpoint and every way in which the tutorial and the code disagree.
func replayTutorial(md []byte, stub, complete map[string][]byte) ([]checkpoint, []string) {
	blocks, err := parseTutorial(md)
	if err != nil {
		return nil, []string{err.Error()}
	}
	var (
		problems    []string
		checkpoints []checkpoint
		declared    = map[string]bool{}
		pictures    int // pictures since the last checkpoint
	)
	reader := cloneFiles(stub) // the reader's application as it grows, step by step
	for _, b := range blocks {
		where := fmt.Sprintf("quickstart.md:%d (%s=%s)", b.line, b.kind, b.file)
		switch b.kind {
		case "checkpoint":
			if pictures == 0 {
				problems = append(problems, fmt.Sprintf("quickstart.md:%d: the step before checkpoint %q shows no picture of what the reader should see", b.line, b.file))
			}
			pictures = 0
			if _, known := checkpointChecks[b.file]; !known {
				problems = append(problems, fmt.Sprintf("quickstart.md:%d: unknown checkpoint %q (known: %s)", b.line, b.file, strings.Join(checkpointNames(), ", ")))
				continue
			}
			declared[b.file] = true
			checkpoints = append(checkpoints, checkpoint{name: b.file, line: b.line, files: cloneFiles(reader)})
		case "copy":
			content, ok := complete[b.file]
			if !ok {
				problems = append(problems, fmt.Sprintf("%s: copies complete-application/%s, which does not exist", where, b.file))
				continue
			}
			reader[b.file] = bytes.Clone(content)
		case "excerpt":
			if got, ok := reader[b.file]; !ok {
				problems = append(problems, fmt.Sprintf("%s: shows lines of %s, which the reader does not have at this step", where, b.file))
			} else if !strings.Contains("\n"+string(got), "\n"+b.content) {
				problems = append(problems, fmt.Sprintf("%s: these lines are not in the reader's %s at this step:\n%s", where, b.file, b.content))
			}
		case "stub":
			if got, ok := stub[b.file]; !ok {
				problems = append(problems, fmt.Sprintf("%s: stub-application/%s does not exist", where, b.file))
			} else if string(got) != b.content {
				problems = append(problems, fmt.Sprintf("%s: differs from stub-application/%s:\n%s", where, b.file, firstDifference(b.content, string(got))))
			}
		case "save":
			if formatted, err := format.Source([]byte(b.content)); err != nil || string(formatted) != b.content {
				problems = append(problems, fmt.Sprintf("%s: not a gofmt-formatted Go file (%v)", where, err))
			}
			reader[b.file] = []byte(b.content)
		case "diff":
			before, ok := reader[b.file]
			if !ok {
				problems = append(problems, fmt.Sprintf("%s: edits %s, which the reader does not have at this step", where, b.file))
				continue
			}
			after, err := gitApply(b.file, before, b.content)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", where, err))
				continue
			}
			reader[b.file] = after
		case "picture":
			pictures++
			if err := checkPicture(b.file); err != nil {
				problems = append(problems, fmt.Sprintf("quickstart.md:%d: %v", b.line, err))
			}
		}
	}
	for _, name := range checkpointNames() {
		if !declared[name] {
			problems = append(problems, fmt.Sprintf("quickstart.md never declares <!-- checkpoint: %s -->", name))
		}
	}
	for _, name := range sortedUnion(reader, complete) {
		got, inReader := reader[name]
		want, inComplete := complete[name]
		switch {
		case !inComplete:
			problems = append(problems, fmt.Sprintf("after the tutorial the reader has %s, which complete-application/ does not", name))
		case !inReader:
			problems = append(problems, fmt.Sprintf("complete-application/%s is never created by the tutorial", name))
		case !bytes.Equal(got, want):
			problems = append(problems, fmt.Sprintf("after the tutorial, %s differs from complete-application/%s:\n%s", name, name, firstDifference(string(got), string(want))))
		}
	}
	return checkpoints, problems
}

var (
	copyLine       = regexp.MustCompile(`^cp complete-application/(\S+) my-changebank/(\S+)$`)
	checkpointLine = regexp.MustCompile(`^<!-- checkpoint: ([a-z-]+) -->$`)
	pictureLine    = regexp.MustCompile(`^!\[[^\]]+\]\((images/[a-z-]+\.png)\)$`)
)

// parseTutorial finds the fenced blocks whose info string names a file, the copies in shell
// blocks and the checkpoints.
func parseTutorial(md []byte) ([]tutorialBlock, error) {
	var (
		blocks    []tutorialBlock
		current   *tutorialBlock
		body      strings.Builder
		paragraph strings.Builder // the last paragraph before a fence
		blank     bool            // whether the previous line was blank
		shell     bool            // whether the current block holds shell commands
	)
	scanner := bufio.NewScanner(bytes.NewReader(md))
	scanner.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for n := 1; scanner.Scan(); n++ {
		line := scanner.Text()
		fence := strings.HasPrefix(line, "```")
		switch {
		case current == nil && fence:
			info := strings.Fields(strings.TrimPrefix(line, "```"))
			b, named, err := blockFromInfo(info, n)
			if err != nil {
				return nil, err
			}
			if named && !strings.Contains(paragraph.String(), "`"+b.file+"`") {
				return nil, fmt.Errorf("quickstart.md:%d: the paragraph before a %s= block must name `%s`", n, b.kind, b.file)
			}
			current = &b
			shell = len(info) > 0 && info[0] == "shell"
			body.Reset()
		case current != nil && line == "```":
			if current.kind != "" {
				current.content = body.String()
				blocks = append(blocks, *current)
			}
			current = nil
			paragraph.Reset()
		case current != nil && shell && strings.HasPrefix(strings.TrimSpace(line), "cp complete-application/"):
			m := copyLine.FindStringSubmatch(line)
			if m == nil || m[1] != m[2] || path.Clean(m[1]) != m[1] || strings.HasPrefix(m[1], "..") {
				return nil, fmt.Errorf("quickstart.md:%d: write a copy as `cp complete-application/PATH my-changebank/PATH`, one file a line: %q", n, line)
			}
			blocks = append(blocks, tutorialBlock{kind: "copy", file: m[1], line: n})
		case current != nil:
			body.WriteString(line)
			body.WriteByte('\n')
		case strings.HasPrefix(line, "!["):
			m := pictureLine.FindStringSubmatch(line)
			if m == nil {
				return nil, fmt.Errorf("quickstart.md:%d: write a picture as ![what it shows](images/NAME.png) on a line of its own: %q", n, line)
			}
			blocks = append(blocks, tutorialBlock{kind: "picture", file: m[1], line: n})
		case strings.Contains(line, "checkpoint:"):
			m := checkpointLine.FindStringSubmatch(line)
			if m == nil {
				return nil, fmt.Errorf("quickstart.md:%d: write a checkpoint as <!-- checkpoint: NAME --> on a line of its own: %q", n, line)
			}
			blocks = append(blocks, tutorialBlock{kind: "checkpoint", file: m[1], line: n})
		case strings.TrimSpace(line) == "":
			blank = true
		default:
			if blank {
				paragraph.Reset()
				blank = false
			}
			paragraph.WriteString(line)
			paragraph.WriteByte('\n')
		}
	}
	if err := scanner.Err(); err != nil {
		return nil, err
	}
	if current != nil {
		return nil, fmt.Errorf("quickstart.md:%d: code block never closed", current.line)
	}
	return blocks, nil
}

// blockFromInfo reads a fence's info string, e.g. ["diff", "file=routes.go"]. named reports whether
// the block names a file; blocks that do not (shell commands, output) are not checked. file= on a
// diff block edits the file; on a go block it is the whole file, saved.
func blockFromInfo(info []string, line int) (b tutorialBlock, named bool, err error) {
	b.line = line
	for _, field := range info[min(1, len(info)):] {
		kind, file, ok := strings.Cut(field, "=")
		isDiff := len(info) > 0 && info[0] == "diff"
		isGo := len(info) > 0 && info[0] == "go"
		if !ok || (kind != "stub" && kind != "excerpt" && !(kind == "file" && (isDiff || isGo))) {
			return b, false, fmt.Errorf("quickstart.md:%d: unknown fence attribute %q (want stub=, excerpt=, or file= on a diff or go block)", line, field)
		}
		if path.Clean(file) != file || strings.HasPrefix(file, "..") || path.IsAbs(file) {
			return b, false, fmt.Errorf("quickstart.md:%d: %q is not a clean relative path", line, file)
		}
		b.kind, b.file = kind, file
		if kind == "file" && isDiff {
			b.kind = "diff"
		} else if kind == "file" {
			b.kind = "save"
		}
	}
	return b, b.kind != "", nil
}

// gitApply applies a diff block to the reader's file called name, which holds before, with git
// apply in a scratch folder laid out as the reader's: the diff must name my-changebank/NAME.
func gitApply(name string, before []byte, diff string) ([]byte, error) {
	target := "my-changebank/" + name
	if !strings.HasPrefix(diff, "--- a/"+target+"\n+++ b/"+target+"\n") {
		return nil, fmt.Errorf("the diff must start with --- a/%s and +++ b/%s, so git apply finds the reader's file", target, target)
	}
	dir, err := os.MkdirTemp("", "quickstart-diff-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, filepath.FromSlash(target))
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(file, before, 0o644); err != nil {
		return nil, err
	}
	for _, args := range [][]string{{"apply", "--check", "-"}, {"apply", "-"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Stdin = strings.NewReader(diff)
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("git %s does not take this diff on the reader's %s: %v\n%s", strings.Join(args, " "), name, err, out)
		}
	}
	return os.ReadFile(file)
}

// checkPicture checks that a picture the tutorial shows is there, and is a PNG.
func checkPicture(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("the picture %s is missing (go test ./e2e -run TestTutorialPictures -update takes it): %w", name, err)
	}
	defer f.Close()
	if _, err := png.DecodeConfig(f); err != nil {
		return fmt.Errorf("the picture %s is not a PNG: %w", name, err)
	}
	return nil
}

// loadTutorialInputs reads quickstart.md and the non-test files of both applications.
func loadTutorialInputs(t *testing.T) (md []byte, stub, complete map[string][]byte) {
	t.Helper()
	md, err := os.ReadFile("quickstart.md")
	require.NoError(t, err)
	stub, err = readApplication("stub-application")
	require.NoError(t, err)
	complete, err = readApplication("complete-application")
	require.NoError(t, err)
	return md, stub, complete
}

func readApplication(dir string) (map[string][]byte, error) {
	files := map[string][]byte{}
	err := fs.WalkDir(os.DirFS(dir), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			// As the go command does: testdata, and folders starting with _ or ., are no part of the app.
			if name != "." && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), "_") || strings.HasPrefix(d.Name(), ".")) {
				return fs.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(name, "_test.go") {
			return nil
		}
		content, err := os.ReadFile(path.Join(dir, name))
		files[name] = content
		return err
	})
	if len(files) == 0 && err == nil {
		err = errors.New(dir + " has no files")
	}
	return files, err
}

// mutateBlock changes one character inside block b of md.
func mutateBlock(t *testing.T, md []byte, b tutorialBlock) []byte {
	t.Helper()
	start := bytes.Index(md, []byte(b.content))
	require.GreaterOrEqual(t, start, 0, "block content not found in quickstart.md")
	middle := start + len(b.content)/2
	for md[middle] == '\n' || md[middle] == ' ' {
		middle++
	}
	md[middle] ^= 0x01
	return md
}

func flipOneCharacter(content []byte) []byte {
	changed := bytes.Clone(content)
	changed[len(changed)/2] ^= 0x01
	return changed
}

func cloneFiles(files map[string][]byte) map[string][]byte {
	clone := make(map[string][]byte, len(files))
	for name, content := range files {
		clone[name] = bytes.Clone(content)
	}
	return clone
}

func sortedUnion(a, b map[string][]byte) []string {
	seen := map[string]bool{}
	for name := range a {
		seen[name] = true
	}
	for name := range b {
		seen[name] = true
	}
	names := make([]string, 0, len(seen))
	for name := range seen {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// firstDifference shows the first line where got and want part, with its line number.
func firstDifference(got, want string) string {
	gotLines, wantLines := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < max(len(gotLines), len(wantLines)); i++ {
		var g, w string
		if i < len(gotLines) {
			g = gotLines[i]
		}
		if i < len(wantLines) {
			w = wantLines[i]
		}
		if g != w {
			return fmt.Sprintf("  line %d\n  tutorial: %q\n  code:     %q", i+1, g, w)
		}
	}
	return "  (they differ only in the final newline)"
}

// The seam of "Add login to your own app" is what a reader writes into an app of their own,
// beside the login's files copied unchanged: with them, it must build and pass go vet.
func TestQuickstartSeamExampleBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the seam example; skipped in -short mode")
	}
	md, _, complete := loadTutorialInputs(t)
	example := seamExample(md)
	require.NotEmpty(t, example, "quickstart.md has no ```go block of a whole program (package main) without a file=")

	// The leading underscore keeps the folder out of ./... patterns while it exists.
	dir, err := os.MkdirTemp(".", "_quickstart-seam-")
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, os.RemoveAll(dir)) })
	for name, content := range complete {
		if strings.HasPrefix(name, "login") && strings.HasSuffix(name, ".go") {
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), content, 0o644))
		}
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(example), 0o644))
	out, err := exec.CommandContext(t.Context(), "go", "vet", "./"+filepath.ToSlash(dir)).CombinedOutput()
	assert.NoError(t, err, "the seam example with the login's files:\n%s", out)
}

// seamExample returns the first ```go block that names no file and holds a whole program.
func seamExample(md []byte) string {
	var body strings.Builder
	inside := false
	for _, line := range strings.SplitAfter(string(md), "\n") {
		switch {
		case !inside && strings.TrimSpace(line) == "```go":
			inside = true
			body.Reset()
		case inside && strings.TrimSpace(line) == "```":
			if strings.HasPrefix(body.String(), "package main\n") {
				return body.String()
			}
			inside = false
		case inside:
			body.WriteString(line)
		}
	}
	return ""
}
