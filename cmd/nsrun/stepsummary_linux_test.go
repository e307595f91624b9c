package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nsrun/nsrun/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStepSummaryMarkdown renders a failed run's section without running
// anything: quoting, fences that the text cannot close, the optional parts.
func TestStepSummaryMarkdown(t *testing.T) {
	r := stepReport{
		command: []string{"sh", "-c", "echo `date`; exit 3"}, code: 3, status: "exit status 3",
		duration: 1234567 * time.Microsecond, topology: "lab.yaml",
		evidence: evidence{diagram: "flowchart LR\n    n_a[\"a\"]\n", dump: "== a\n```\nlinks:\n", capture: "/tmp/caps"},
	}
	assert.Equal(t, "### nsrun: ``sh -c 'echo `date`; exit 3'`` failed\n\n"+
		"- **Exit code:** 3 (`exit status 3`)\n"+
		"- **Duration:** 1.235s\n"+
		"- **Topology:** `lab.yaml`\n"+
		"- **Packet capture:** `/tmp/caps`\n"+
		"\n```mermaid\nflowchart LR\n    n_a[\"a\"]\n```\n"+
		"\n<details><summary>State dump</summary>\n\n````text\n== a\n```\nlinks:\n````\n\n</details>\n\n",
		string(r.markdown()))

	r = stepReport{command: []string{"false"}, code: 125, status: "nsrun: create namespace: permission denied\n(more)"}
	assert.Equal(t, "### nsrun: `false` failed\n\n- **Exit code:** 125 (`nsrun: create namespace: permission denied (more)`)\n- **Duration:** 0s\n\n",
		string(r.markdown()), "no topology, capture, diagram or dump: left out")

	r = stepReport{command: []string{strings.Repeat("x", 300)}, evidence: evidence{dump: strings.Repeat("d", maxDump+10)}}
	md := string(r.markdown())
	assert.Contains(t, md, "`"+strings.Repeat("x", 200)+" ...`")
	assert.Contains(t, md, "\n[... 10 more bytes left out]\n")
	assert.Equal(t, "`` `x` ``", codeSpan("`x`"))
	assert.Equal(t, "'a b' c 'it'\\''s' ''", shellJoin([]string{"a b", "c", "it's", ""}, 100))
}

// TestStepSummaryWrite appends for a failed run only, and a file that
// cannot be written costs a warning, not the run.
func TestStepSummaryWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "summary.md")
	t.Setenv(stepSummaryEnv, path)
	var stderr bytes.Buffer
	a := &app{stderr: &stderr}
	sum := newSummary([]string{"true"})
	a.stepSummary(&runOpts{}, sum, 0)
	assert.NoFileExists(t, path, "nothing for a run that succeeded")

	require.NoError(t, os.WriteFile(path, []byte("# before\n"), 0o644))
	sum = newSummary([]string{"false"})
	sum.Status = "exit status 1"
	sum.attach("DUMP", "")
	a.stepSummary(&runOpts{}, sum, 1)
	a.stepSummary(&runOpts{}, sum, 1)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(b), "# before\n### nsrun: `false` failed\n"), string(b))
	assert.Equal(t, 2, strings.Count(string(b), "### nsrun: `false` failed"), "appended, twice")
	assert.Contains(t, string(b), "<summary>State dump</summary>\n\n```text\nDUMP\n```")
	assert.Empty(t, stderr.String())

	t.Setenv(stepSummaryEnv, "")
	a.stepSummary(&runOpts{env: []string{"A=1", stepSummaryEnv + "=" + path}}, sum, 1)
	b, err = os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, 3, strings.Count(string(b), "### nsrun:"), "the sudo caller's variable")

	t.Setenv(stepSummaryEnv, filepath.Join(t.TempDir(), "no", "such", "dir"))
	a.stepSummary(&runOpts{}, sum, 1)
	assert.True(t, strings.HasPrefix(stderr.String(), "nsrun: warning: write step summary (GITHUB_STEP_SUMMARY): open "), stderr.String())
}

// TestIntegrationStepSummary runs nsrun with GITHUB_STEP_SUMMARY set: a
// failing run appends its section (with the topology's live diagram and
// the dump of its nodes), a passing run nothing.
func TestIntegrationStepSummary(t *testing.T) {
	testenv.RequirePrivilege(t)
	path := filepath.Join(t.TempDir(), "step-summary.md")
	env := []string{stepSummaryEnv + "=" + path}

	r := runNsrun(t, env, "--", "true")
	require.Equal(t, 0, r.code, r.stderr)
	assert.NoFileExists(t, path)

	r = runNsrun(t, env, "--", "sh", "-c", "exit 3")
	require.Equal(t, 3, r.code, r.stderr)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	md := string(b)
	assert.True(t, strings.HasPrefix(md, "### nsrun: `sh -c 'exit 3'` failed\n\n- **Exit code:** 3 (`exit status 3`)\n- **Duration:** "), md)
	assert.Contains(t, md, "<summary>State dump</summary>")
	assert.NotContains(t, md, "```mermaid", "no topology, no diagram")

	require.NoError(t, os.Remove(path))
	file, name := topologyFile(t)
	r = runNsrun(t, env, "--topology", file, "--", "false")
	require.Equal(t, 1, r.code, r.stderr)
	b, err = os.ReadFile(path)
	require.NoError(t, err)
	md = string(b)
	assert.Contains(t, md, "- **Topology:** `"+file+"`\n")
	assert.Contains(t, md, "\n```mermaid\nflowchart LR\n    %% nsrun live topology "+name+"\n")
	assert.Contains(t, md, "client/eth0 10.200.0.1/30 fd00:6e73::1/64<br/>server/eth0 10.200.0.2/30 fd00:6e73::2/64<br/>up")
	assert.Contains(t, md, "\n== client ")
	assert.Empty(t, r.stdout)

	require.NoError(t, os.Remove(path))
	r = runNsrun(t, env, "--topology", file, "--node", "nosuch", "true")
	require.Equal(t, 125, r.code)
	b, err = os.ReadFile(path)
	require.NoError(t, err, "an nsrun error is a failed run too")
	md = string(b)
	assert.Contains(t, md, "- **Exit code:** 125 (`nsrun: fixture: no node \"nosuch\"")
	assert.Contains(t, md, "    %% nsrun topology "+name+"\n", "the file's diagram: nothing live")

	r = runNsrun(t, []string{stepSummaryEnv + "=" + filepath.Join(path, "not-a-dir")}, "--", "false")
	assert.Equal(t, 1, r.code, "a summary that cannot be written does not change the exit code")
	assert.Contains(t, r.stderr, "nsrun: warning: write step summary")
}
